package io.tcpulse.agent.host;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.testing.Wait;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ProcNetTcpTest {
    private static final long NETNS = 4026531840L;
    private static final String HEADER =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    @Test
    void ipv4ListenerReportsItsAcceptQueue() throws Exception {
        SocketRecord r = only(HEADER
                + "   0: 0100007F:1F90 00000000:0000 0A 00000080:00000003 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n");
        assertEquals(NETNS, r.netns());
        assertEquals(TcpState.LISTEN, r.state());
        assertEquals(InetAddress.getByName("127.0.0.1"), r.local());
        assertEquals(8080, r.localPort());
        assertEquals(InetAddress.getByName("0.0.0.0"), r.remote());
        assertEquals(0, r.remotePort());
        assertEquals(3, r.acceptQueue());
        assertEquals(0, r.acceptQueueMax(), "tx_queue of a listener is not its backlog limit");
        assertEquals(1000, r.uid());
        assertEquals(12345, r.inode());
        assertEquals(0, r.sockId());
        assertEquals(0, r.pid());
        assertEquals("", r.comm());
        assertFalse(r.timewait());
        assertFalse(r.request());
    }

    @Test
    void queuesOfOtherSocketsAreNotListenQueues() {
        SocketRecord r = only("   1: 0200000A:1F90 0300000A:C350 01 00000010:00000020 01:00000014 00000000  1000        0 12346 1 0000000000000000 20 4 30 10 -1\n");
        assertEquals(TcpState.ESTABLISHED, r.state());
        assertEquals("10.0.0.2", r.local().getHostAddress());
        assertEquals("10.0.0.3", r.remote().getHostAddress());
        assertEquals(50000, r.remotePort());
        assertEquals(0, r.acceptQueue());
        assertEquals(0, r.acceptQueueMax());
    }

    @Test
    void ipv6AddressesAreWordsInHostOrder() throws Exception {
        ProcNetTcp.Parsed p = ProcNetTcp.parse(NETNS, HEADER
                + "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22222 1 0000000000000000 100 0 0 10 0\n"
                + "   1: B80D0120000000000000000001000000:01BB 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 22223 1 0000000000000000 20 4 30 10 -1\n");
        assertEquals(0, p.malformed());
        assertEquals(InetAddress.getByName("::1"), p.sockets().get(0).local());
        SocketRecord r = p.sockets().get(1);
        assertEquals(InetAddress.getByName("2001:db8::1"), r.local());
        assertEquals(443, r.localPort());
        // an IPv4-mapped peer comes back as the IPv4 address
        assertEquals(InetAddress.getByName("127.0.0.1"), r.remote());
        assertEquals(54321, r.remotePort());
    }

    @Test
    void requestSocketsBecomeNewSynRecv() {
        // get_openreq4: state 03, inode 0, and nothing after the pointer
        SocketRecord r = only("   2: 0100007F:1F90 0100007F:C351 03 00000000:00000000 01:00000064 00000002  1000        0 0 0 0000000000000000\n");
        assertEquals(TcpState.NEW_SYN_RECV, r.state());
        assertTrue(r.request());
        assertFalse(r.timewait());
        assertEquals(0, r.inode());
    }

    @Test
    void timewaitSocketsKeepTheirSubstate() {
        ProcNetTcp.Parsed p = ProcNetTcp.parse(NETNS,
                "   3: 0100007F:C352 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n"
                + "   4: 0100007F:C353 0100007F:1F90 05 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000\n"
                // an orphaned full FIN_WAIT2 socket also has inode 0, but prints the full line
                + "   5: 0100007F:C354 0100007F:1F90 05 00000000:00000000 02:000005DC 00000000  1000        0 0 1 0000000000000000 20 4 30 10 -1\n");
        assertEquals(0, p.malformed());
        SocketRecord tw = p.sockets().get(0), twFinWait2 = p.sockets().get(1), orphan = p.sockets().get(2);
        assertEquals(TcpState.TIME_WAIT, tw.state());
        assertTrue(tw.timewait());
        assertEquals(60_000, tw.timerMs()); // 0x1770 ticks of 10 ms
        assertEquals(TcpState.FIN_WAIT2, twFinWait2.state());
        assertTrue(twFinWait2.timewait());
        assertEquals(30_000, twFinWait2.timerMs());
        assertEquals(TcpState.FIN_WAIT2, orphan.state());
        assertFalse(orphan.timewait());
        assertEquals(0, orphan.timerMs());
    }

    @Test
    void malformedLinesAreCountedAndSkipped() {
        ProcNetTcp.Parsed p = ProcNetTcp.parse(NETNS, HEADER
                + "garbage\n"
                + "\n"
                + "   0: 0100007F:1F90\n"
                + "   1: ZZ00007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
                + "   2: 0100007F:1F90 00000000:0000 0D 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
                + "   3: 0100007F:FFFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
                + "   4: 0100007F:1F90 00000000:0000 0A 00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
                + "   5: 0100007F1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
                + "   6: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n");
        assertEquals(7, p.malformed());
        assertEquals(1, p.sockets().size());
        assertEquals(77, p.sockets().get(0).inode());
    }

    /** The kernel's own output: a listener with a waiting connection, and a TIME_WAIT. */
    @Test
    void readsTheRealProcNetTcp() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/net/tcp")), "no /proc/net/tcp");
        long netns = ((Number) Files.getAttribute(Path.of("/proc/self/ns/net"), "unix:ino")).longValue();
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        try (ServerSocket server = new ServerSocket(0, 7, loopback)) {
            int port = server.getLocalPort();
            Socket waiting = new Socket(loopback, port); // completes the handshake, never accepted
            SocketRecord listener = find(netns, r -> r.localPort() == port && r.state() == TcpState.LISTEN
                    && r.acceptQueue() == 1);
            assertEquals(loopback, listener.local()); // from tcp6 as ::ffff:127.0.0.1 on a dual-stack JVM
            assertNotEquals(0, listener.inode());

            // the side that closes first ends in TIME_WAIT
            Socket accepted = server.accept();
            int clientPort = waiting.getLocalPort();
            waiting.close();
            // its FIN taken in (FIN_WAIT2) before the other side closes: no simultaneous close
            find(netns, r -> r.localPort() == clientPort && r.state() == TcpState.FIN_WAIT2);
            accepted.close();
            SocketRecord tw = find(netns, r -> r.localPort() == clientPort && r.timewait());
            assertEquals(TcpState.TIME_WAIT, tw.state());
            assertEquals(0, tw.inode());
            assertTrue(tw.timerMs() > 50_000 && tw.timerMs() <= 60_000, "timer " + tw.timerMs());
        }
    }

    /** Java sockets are dual-stack: IPv4 ones may show in tcp6. */
    static SocketRecord find(long netns, Predicate<SocketRecord> match) throws Exception {
        return Wait.until(java.time.Duration.ofSeconds(2), java.time.Duration.ofMillis(20), () -> {
            for (String file : new String[] {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
                ProcNetTcp.Parsed p = ProcNetTcp.read(netns, Path.of(file));
                assertEquals(0, p.malformed(), file);
                Optional<SocketRecord> r = p.sockets().stream().filter(match).findFirst();
                if (r.isPresent()) return r;
            }
            return Optional.<SocketRecord>empty();
        }, Optional::isPresent, r -> "socket not found in /proc/self/net/tcp{,6}").orElseThrow();
    }

    private static SocketRecord only(String text) {
        ProcNetTcp.Parsed p = ProcNetTcp.parse(NETNS, text);
        assertEquals(0, p.malformed());
        assertEquals(1, p.sockets().size());
        return p.sockets().get(0);
    }
}
