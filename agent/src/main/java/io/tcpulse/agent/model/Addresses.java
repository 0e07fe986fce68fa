package io.tcpulse.agent.model;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Addresses written the way people read them, in every endpoint, metric label, alert and
 * view: RFC 5952 for IPv6 ("::1", "2001:db8::1", never "0:0:0:0:0:0:0:1"), IPv4-mapped
 * addresses as IPv4, brackets around IPv6 before a port ("[::1]:7100"). No name lookups.
 */
public final class Addresses {
    private Addresses() {}

    public static String text(InetAddress a) {
        if (a == null) return null;
        return a instanceof Inet6Address ? ipv6(a.getAddress()) : a.getHostAddress();
    }

    /** 4 or 16 raw bytes, network order. */
    public static String text(byte[] raw) {
        try {
            return text(InetAddress.getByAddress(raw));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("an address is 4 or 16 bytes, got " + raw.length, e);
        }
    }

    /** "10.0.0.1:80", "[2001:db8::1]:443". */
    public static String endpoint(InetAddress a, int port) {
        return endpoint(text(a), port);
    }

    /** The same for an address already written as text (IPv6 gets its brackets). */
    public static String endpoint(String address, int port) {
        return (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
    }

    private static String ipv6(byte[] b) {
        // ::ffff:a.b.c.d is an IPv4 peer of a dual-stack socket: shown as the IPv4 it is
        boolean mapped = b[10] == (byte) 0xff && b[11] == (byte) 0xff;
        for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
        if (mapped) return (b[12] & 0xff) + "." + (b[13] & 0xff) + "." + (b[14] & 0xff) + "." + (b[15] & 0xff);
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        // the longest run of two or more zero groups becomes "::" (the first one on a tie)
        int bestStart = -1, bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) { i++; continue; }
            int j = i;
            while (j < 8 && groups[j] == 0) j++;
            if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') sb.append(':');
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }
}
