package io.tcpulse.agent.aggregate;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static io.tcpulse.agent.probe.EventDecoder.*;
import static org.junit.jupiter.api.Assertions.*;

/** Issue 11: 10,000 namespaces come and go; what the agent keeps of them shrinks back, on an injected clock. */
class StateEvictionTest {
    static final int NAMESPACES = 10_000;
    static final long FIRST = 4_026_600_000L;

    /** For each namespace: one client handshake (a latency histogram) and one RST (a peer row). */
    static ByteBuffer batch(long first, int n) {
        ByteBuffer b = ByteBuffer.allocate(2 * n * EVENT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            int at = 2 * i * EVENT_SIZE;
            b.putInt(at + EV_NETNS, (int) (first + i));
            b.putInt(at + EV_SAMPLE_RATIO, 1);
            b.put(at + EV_KIND, (byte) KIND_STATE);
            b.put(at + EV_OLDSTATE, (byte) 2); // SYN_SENT
            b.put(at + EV_NEWSTATE, (byte) 1); // ESTABLISHED
            b.putLong(at + EV_PREV_STATE_NS, 1_000_000);
            ByteBuffer rst = ResetPeersTest.rst(first + i, 1, 8080, true, 1);
            b.put(at + EVENT_SIZE, rst, 0, EVENT_SIZE);
        }
        return b;
    }

    @Test
    void goneNamespacesAreForgottenAfterTheGracePeriod() {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        Aggregator a = new Aggregator(100, clock::get);
        a.onEvents(batch(FIRST, NAMESPACES), 2 * NAMESPACES, 0);
        assertArrayEquals(new int[] {NAMESPACES, NAMESPACES, NAMESPACES}, a.perNamespaceState());

        // a walk that no longer sees them, within the grace: kept
        clock.addAndGet(NetnsEviction.DEFAULT_GRACE_MILLIS);
        a.onWalk(new WalkAccumulator(Map.of()), Map.of(), List.of(), List.of(), 1);
        assertArrayEquals(new int[] {NAMESPACES, NAMESPACES, NAMESPACES}, a.perNamespaceState());

        // the next 10,000 come while the first are still within the grace
        a.onEvents(batch(FIRST + NAMESPACES, NAMESPACES), 2 * NAMESPACES, 0);
        assertArrayEquals(new int[] {2 * NAMESPACES, 2 * NAMESPACES, 2 * NAMESPACES}, a.perNamespaceState());

        // past the grace: the first 10,000 go, the second wait their turn
        clock.addAndGet(1);
        a.onWalk(new WalkAccumulator(Map.of()), Map.of(), List.of(), List.of(), 1);
        assertArrayEquals(new int[] {NAMESPACES, NAMESPACES, NAMESPACES}, a.perNamespaceState());
        clock.addAndGet(NetnsEviction.DEFAULT_GRACE_MILLIS + 1);
        a.onWalk(new WalkAccumulator(Map.of()), Map.of(), List.of(), List.of(), 1);
        assertArrayEquals(new int[] {0, 0, 0}, a.perNamespaceState());
        a.publish();
        assertEquals(Map.of(), a.current().latency());
    }

    @Test
    void aNamespaceAWalkStillSeesIsKept() {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        Aggregator a = new Aggregator(100, clock::get);
        a.onEvents(batch(FIRST, 2), 4, 0);
        WalkAccumulator walk = new WalkAccumulator(Map.of());
        walk.stateCounts.put(FIRST, new long[13]);
        clock.addAndGet(NetnsEviction.DEFAULT_GRACE_MILLIS + 1);
        a.onWalk(walk, Map.of(), List.of(), List.of(), 1);
        assertArrayEquals(new int[] {1, 1, 1}, a.perNamespaceState());
    }

    @Test
    void aFullRstTableDecaysIntoOtherKeepingItsSum() {
        ResetPeers p = new ResetPeers();
        int ports = ResetPeers.MAX_KEYS_PER_NETNS + 10;
        for (int port = 1; port <= ports; port++) ResetPeersTest.add(p, ResetPeersTest.rst(7, 1, port, true, 1));
        assertEquals(ResetPeers.MAX_KEYS_PER_NETNS + 1, p.rows(), "full: the last 10 went to other");
        p.decay();
        assertEquals(ResetPeers.MAX_KEYS_PER_NETNS + 1 - ResetPeers.MAX_KEYS_PER_NETNS / 2, p.rows());
        assertEquals(ports, p.total(7), "the sum is kept");
        ResetPeersTest.add(p, ResetPeersTest.rst(7, 9, 1, true, 1)); // a new peer gets a row of its own again
        assertTrue(p.top(7).stream().anyMatch(r -> r.peer().equals("10.0.0.9")), p.top(7).toString());
        assertEquals(ports + 1, p.total(7));
    }

    @Test
    void aCloseWaitOwnerHistoryIsDownsampled() {
        java.util.ArrayDeque<long[]> h = new java.util.ArrayDeque<>();
        long t0 = 1_700_000_000_000L;
        for (int i = 0; i <= 6000; i++) ClosingTracker.record(h, t0 + i * 100L, i); // 10 minutes of 100 ms walks
        // the last minute at about one a second (the newest moves for a second), the nine before at one per 20 s
        assertTrue(h.size() <= 67 + 28, h.size() + " samples");
        assertTrue(h.size() >= 80, h.size() + " samples");
        assertEquals(6000, h.peekLast()[1], "the newest is the last walk's");
        long prev = -1;
        for (long[] s : h) {
            assertTrue(s[1] > prev, "in order, rising");
            prev = s[1];
        }
        assertTrue(t0 + 6000 * 100L - h.peekFirst()[0] <= 10 * 60_000L, "ten minutes at most");
    }
}
