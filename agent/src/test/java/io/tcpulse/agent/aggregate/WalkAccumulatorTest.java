package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.TcpState;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static io.tcpulse.agent.probe.EventDecoder.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Raw walk records (struct tcpulse_sock, written at its offsets) folded the way views
 * read them: per-namespace state counts, outbound destinations by their text, a
 * listener's children, TIME_WAIT by local port; namespaces interleaved as a walk of
 * several would never list them, so that nothing depends on the order.
 */
class WalkAccumulatorTest {
    static final long A = 4_026_531_840L, B = 4_026_532_001L;
    static final int ESTABLISHED = TcpState.ESTABLISHED.kernel, TIME_WAIT = TcpState.TIME_WAIT.kernel,
            LISTEN = TcpState.LISTEN.kernel;

    private final ByteBuffer b = ByteBuffer.allocate(SOCK_SIZE * 32).order(ByteOrder.LITTLE_ENDIAN);
    private int records;

    private void sock(long netns, int state, boolean timewait, String local, int sport, String remote, int dport,
                      long bytesSent) throws Exception {
        int at = records++ * SOCK_SIZE;
        byte[] l = InetAddress.getByName(local).getAddress(), r = InetAddress.getByName(remote).getAddress();
        b.putInt(at + SK_NETNS, (int) netns);
        b.putShort(at + SK_FAMILY, (short) (l.length == 16 ? 10 : 2));
        b.putShort(at + SK_SPORT, (short) sport);
        b.putShort(at + SK_DPORT, (short) dport);
        b.put(at + SK_STATE, (byte) state);
        b.put(at + SK_FLAGS, (byte) (timewait ? SK_TIMEWAIT : 0));
        b.put(at + SK_SADDR, l);
        b.put(at + SK_DADDR, r);
        b.putLong(at + SK_BYTES_SENT, bytesSent);
        b.putInt(at + SK_SRTT_US, timewait ? 0 : 100);
    }

    private WalkAccumulator walk() {
        WalkAccumulator w = new WalkAccumulator(Map.of(B, new int[] {40000, 40100}));
        for (int i = 0; i < records; i++) w.acceptRaw(b, i * SOCK_SIZE);
        return w;
    }

    @Test
    void outboundSocketsToOneDestinationShareItsEntryWhateverTheirPortsAndOrder() throws Exception {
        sock(A, LISTEN, false, "0.0.0.0", 8080, "0.0.0.0", 0, 0);
        sock(B, LISTEN, false, "::", 8080, "::", 0, 0);
        sock(A, ESTABLISHED, false, "10.0.0.1", 40001, "10.0.0.9", 443, 100);
        sock(B, ESTABLISHED, false, "10.0.0.1", 40001, "10.0.0.9", 443, 7);
        sock(A, ESTABLISHED, false, "10.0.0.1", 40002, "10.0.0.9", 443, 20);
        sock(A, TIME_WAIT, true, "10.0.0.1", 40003, "10.0.0.9", 443, 0);
        sock(A, ESTABLISHED, false, "2001:db8::1", 40004, "2001:db8::9", 443, 3);
        sock(A, ESTABLISHED, false, "10.0.0.1", 40005, "10.0.0.9", 8443, 1);
        WalkAccumulator w = walk();

        WalkAccumulator.DestCount v4 = w.outbound.get(new WalkAccumulator.Dest(A, "10.0.0.1", "10.0.0.9:443"));
        assertEquals(2, v4.live);
        assertEquals(1, v4.timeWait);
        assertEquals(2, v4.states[ESTABLISHED]);
        assertEquals(1, v4.states[TIME_WAIT]);
        assertEquals(120, v4.bytesSent);
        assertEquals(2, v4.rtt.count());
        assertEquals(7, w.outbound.get(new WalkAccumulator.Dest(B, "10.0.0.1", "10.0.0.9:443")).bytesSent);
        assertEquals(3, w.outbound.get(new WalkAccumulator.Dest(A, "2001:db8::1", "[2001:db8::9]:443")).bytesSent);
        assertEquals(1, w.outbound.get(new WalkAccumulator.Dest(A, "10.0.0.1", "10.0.0.9:8443")).live);
        assertEquals(4, w.outbound.size());
        assertEquals(8, w.sockets);
        assertEquals(4, w.stateCounts.get(A)[ESTABLISHED]);
        assertEquals(1, w.stateCounts.get(B)[ESTABLISHED]);
        assertEquals(Map.of(40003, 1L), w.timeWaitByLocalPort.get(A));
    }

    @Test
    void aListenersChildrenAndNamespacesOwnEphemeralRanges() throws Exception {
        sock(A, LISTEN, false, "0.0.0.0", 8080, "0.0.0.0", 0, 0);
        sock(B, LISTEN, false, "0.0.0.0", 9090, "0.0.0.0", 0, 0);
        sock(A, ESTABLISHED, false, "10.0.0.1", 8080, "10.0.0.2", 50000, 5);
        sock(B, ESTABLISHED, false, "10.0.0.1", 9090, "10.0.0.2", 50001, 6);
        sock(A, TIME_WAIT, true, "10.0.0.1", 8080, "10.0.0.2", 50002, 0);
        sock(A, ESTABLISHED, false, "10.0.0.1", 8080, "10.0.0.3", 50003, 10);
        // B's ephemeral range is 40000-40100: 45000 is neither a listener's nor outbound there, in A it is outbound
        sock(B, ESTABLISHED, false, "10.0.0.1", 45000, "10.0.0.2", 80, 1);
        sock(A, ESTABLISHED, false, "10.0.0.1", 45000, "10.0.0.2", 80, 1);
        WalkAccumulator w = walk();

        WalkAccumulator.DestCount a = w.children.get(A).get(8080);
        assertEquals(2, a.live);
        assertEquals(15, a.bytesSent);
        assertEquals(1, a.states[TIME_WAIT]);
        assertEquals(6, w.children.get(B).get(9090).bytesSent);
        assertEquals(1, w.children.get(B).size());
        assertEquals(1, w.outbound.size());
        assertNotNull(w.outbound.get(new WalkAccumulator.Dest(A, "10.0.0.1", "10.0.0.2:80")));
        assertEquals(Map.of(8080, 1L), w.timeWaitByLocalPort.get(A));
        assertEquals(1L, w.timeWaitTotal.get(A));
        assertEquals(java.util.Set.of(8080), w.listeningPorts(A));
        assertEquals(2, w.listeners().size());
    }
}
