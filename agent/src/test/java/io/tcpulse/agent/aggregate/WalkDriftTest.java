package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 12: a reconciliation walk checks the counts kept from transition counters, and says by how much they were off. */
class WalkDriftTest {
    static final long NS = 4_026_531_840L;

    static WalkAccumulator walkFinding(int established, int timewait) {
        WalkAccumulator w = new WalkAccumulator(Map.of());
        long[] c = new long[13];
        c[TcpState.ESTABLISHED.kernel] = established;
        c[TcpState.TIME_WAIT.kernel] = timewait;
        c[TcpState.LISTEN.kernel] = 1;
        w.stateCounts.put(NS, c);
        w.walked(NS);
        return w;
    }

    static List<TransitionCount> opened(long n) {
        return List.of(new TransitionCount(NS, TcpState.SYN_SENT, TcpState.ESTABLISHED, false, n),
                new TransitionCount(NS, TcpState.CLOSE, TcpState.SYN_SENT, false, n));
    }

    static Map<Long, Long> sum(List<TransitionCount> t) {
        return Map.of(NS, t.stream().mapToLong(TransitionCount::count).sum());
    }

    @Test
    void countsThatFollowedEveryChangeShowNoDrift() {
        Aggregator a = new Aggregator(10, () -> 0L);
        a.onWalk(walkFinding(3, 0), Map.of(), sum(opened(0)), opened(0), List.of(), 1);
        // 5 opened since; 40 TIME_WAIT sockets expired or came, which counters cannot see: not drift
        a.onWalk(walkFinding(8, 40), Map.of(), sum(opened(5)), opened(5), List.of(), 1);
        a.publish();
        Health.Drift d = a.current().health().drift();
        assertEquals(1, d.checkedWalks(), "the first walk has nothing to check against");
        assertEquals(0, d.sockets());
        assertEquals(0L, d.byState().get("ESTABLISHED"));
    }

    @Test
    void aChangeTheCountersMissedIsDrift() {
        Aggregator a = new Aggregator(10, () -> 0L);
        a.onWalk(walkFinding(3, 0), Map.of(), sum(opened(0)), opened(0), List.of(), 1);
        // the counters say 5 opened, the walk finds 7 more: two changes were missed
        a.onWalk(walkFinding(10, 0), Map.of(), sum(opened(5)), opened(5), List.of(), 1);
        a.publish();
        Health.Drift d = a.current().health().drift();
        assertEquals(2, d.sockets());
        assertEquals(2L, d.byState().get("ESTABLISHED"));
        // the walk is the truth from then on
        assertEquals(10L, a.current().states().get(NS).get(TcpState.ESTABLISHED));
    }

    @Test
    void aWalkDuringWhichCountersMovedIsNotChecked() {
        Aggregator a = new Aggregator(10, () -> 0L);
        a.onWalk(walkFinding(3, 0), Map.of(), sum(opened(0)), opened(0), List.of(), 1);
        // counters moved while it walked (read 4 before, 5 after): a socket may have been met before or after its change
        a.onWalk(walkFinding(9, 0), Map.of(), sum(opened(4)), opened(5), List.of(), 1);
        a.publish();
        Health.Drift d = a.current().health().drift();
        assertEquals(0, d.checkedWalks());
        assertEquals(1, d.unsettledWalks());
        assertTrue(a.lastWalkMovesSilently(), "the next walk is taken at once");
        // the next (still) walk has an unsettled base: the one after checks
        a.onWalk(walkFinding(9, 0), Map.of(), sum(opened(5)), opened(5), List.of(), 1);
        a.onWalk(walkFinding(9, 0), Map.of(), sum(opened(5)), opened(5), List.of(), 1);
        a.publish();
        d = a.current().health().drift();
        assertEquals(1, d.checkedWalks());
        assertEquals(0, d.sockets());
        assertFalse(a.lastWalkMovesSilently());
    }
}
