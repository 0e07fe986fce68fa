package io.tcpulse.agent.model;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.*;

/** RFC 5952 text, IPv4-mapped as IPv4, brackets before a port. */
class AddressesTest {

    @Test
    void ipv6IsWrittenShortAndLowerCase() throws Exception {
        assertEquals("::1", Addresses.text(InetAddress.getByName("0:0:0:0:0:0:0:1")));
        assertEquals("::", Addresses.text(InetAddress.getByName("0:0:0:0:0:0:0:0")));
        assertEquals("2001:db8::1", Addresses.text(InetAddress.getByName("2001:DB8:0:0:0:0:0:1")));
        // the longest run of zeros is shortened, the first one on a tie; a single zero group stays
        assertEquals("2001:db8::1:0:0:1", Addresses.text(InetAddress.getByName("2001:db8:0:0:1:0:0:1")));
        assertEquals("2001:0:0:1::1", Addresses.text(InetAddress.getByName("2001:0:0:1:0:0:0:1")));
        assertEquals("2001:db8:0:1:1:1:1:1", Addresses.text(InetAddress.getByName("2001:db8:0:1:1:1:1:1")));
        assertEquals("fe80::1", Addresses.text(InetAddress.getByName("fe80::1")));
    }

    @Test
    void ipv4MappedIsIpv4AndIpv4IsUnchanged() throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = mapped[11] = (byte) 0xff;
        mapped[12] = 10; mapped[13] = 1; mapped[14] = 2; mapped[15] = 3;
        assertEquals("10.1.2.3", Addresses.text(mapped));
        assertEquals("127.0.0.1", Addresses.text(new byte[] {127, 0, 0, 1}));
    }

    @Test
    void anEndpointBracketsIpv6Only() throws Exception {
        assertEquals("[::1]:7100", Addresses.endpoint(InetAddress.getByName("::1"), 7100));
        assertEquals("[2001:db8::1]:443", Addresses.endpoint("2001:db8::1", 443));
        assertEquals("10.0.0.1:80", Addresses.endpoint(InetAddress.getByName("10.0.0.1"), 80));
    }
}
