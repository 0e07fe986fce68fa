package io.tcpulse.agent.dashboard;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.History;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.tcpulse.agent.model.TcpState.*;
import static org.junit.jupiter.api.Assertions.*;

/** The agent's hour of per-second samples, driven by hand-built snapshots at chosen times. */
class HistoryTest {
    static final long NS_A = 4026531840L, NS_B = 4026532999L;
    static final long T0 = 1_700_000_000_000L; // a whole second

    /** Snapshot at wall time ms with the given counts per netns, transitions and listeners. */
    static Snapshot snap(long ms, Map<Long, Map<TcpState, Long>> states, List<TransitionCount> transitions,
                         List<ListenerStatus> listeners) {
        Health h = new Health(true, null, "bpf", 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, T0, List.of());
        return new Snapshot(ms, h, states, transitions, Map.of(), List.of(), List.of(), listeners,
                Map.of(), Map.of(), Map.of(), Map.of());
    }

    static Map<TcpState, Long> counts(Object... stateThenCount) {
        Map<TcpState, Long> m = new EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) m.put(s, 0L);
        for (int i = 0; i < stateThenCount.length; i += 2) m.put((TcpState) stateThenCount[i], ((Number) stateThenCount[i + 1]).longValue());
        return m;
    }

    static TransitionCount tc(long ns, TcpState from, TcpState to, long count) {
        return new TransitionCount(ns, from, to, false, count);
    }

    @Test
    void recordsOncePerSecondWhateverThePublishRate() {
        History h = new History();
        // five publishes a second for three seconds
        for (int i = 0; i < 15; i++) {
            long ms = T0 + i * 200L;
            h.maybeRecord(snap(ms, Map.of(NS_A, counts(ESTABLISHED, i)), List.of(), List.of()));
        }
        History.Window w = h.query(null, 3600);
        assertArrayEquals(new long[]{T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 2}, w.time());
        // the first snapshot of each second is the sample
        assertArrayEquals(new float[]{0, 5, 10}, w.states().get(ESTABLISHED));
        assertArrayEquals(new float[]{0, 0, 0}, w.states().get(TIME_WAIT));
        assertEquals(TcpState.COUNTED.length, w.states().size());
    }

    @Test
    void transitionRatesComeFromTheExactCountersPerNamespaceAndSummed() {
        History h = new History();
        h.maybeRecord(snap(T0, Map.of(), List.of(tc(NS_A, SYN_SENT, ESTABLISHED, 100), tc(NS_B, SYN_SENT, ESTABLISHED, 7)), List.of()));
        h.maybeRecord(snap(T0 + 1000, Map.of(), List.of(tc(NS_A, SYN_SENT, ESTABLISHED, 150), tc(NS_B, SYN_SENT, ESTABLISHED, 9)), List.of()));
        // two seconds later (a sample missed): the rate is per second of the gap
        h.maybeRecord(snap(T0 + 3000, Map.of(), List.of(tc(NS_A, SYN_SENT, ESTABLISHED, 250), tc(NS_B, SYN_SENT, ESTABLISHED, 9),
                tc(NS_B, ESTABLISHED, CLOSE_WAIT, 4)), List.of()));

        History.Window a = h.query(NS_A, 60);
        assertArrayEquals(new long[]{T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 3}, a.time());
        assertEquals(1, a.transitions().size());
        assertArrayEquals(new float[]{0, 50, 50}, a.transitions().get(0).rate()); // first sample: baseline only

        History.Window b = h.query(NS_B, 60);
        assertEquals(2, b.transitions().size());
        History.TransitionSeries est = find(b, SYN_SENT, ESTABLISHED);
        assertArrayEquals(new float[]{0, 2, 0}, est.rate());
        // a counter first seen after the baseline: everything it counted is new
        assertArrayEquals(new float[]{0, 0, 2}, find(b, ESTABLISHED, CLOSE_WAIT).rate());

        History.Window all = h.query(null, 60);
        assertArrayEquals(new float[]{0, 52, 50}, find(all, SYN_SENT, ESTABLISHED).rate());
        // largest first
        assertEquals(SYN_SENT, all.transitions().get(0).from());
    }

    @Test
    void derivedHandOversAreKeptApart() {
        History h = new History();
        h.maybeRecord(snap(T0, Map.of(), List.of(new TransitionCount(NS_A, FIN_WAIT2, TIME_WAIT, true, 0),
                tc(NS_A, FIN_WAIT2, CLOSE, 0)), List.of()));
        h.maybeRecord(snap(T0 + 1000, Map.of(), List.of(new TransitionCount(NS_A, FIN_WAIT2, TIME_WAIT, true, 30),
                tc(NS_A, FIN_WAIT2, CLOSE, 31)), List.of()));
        History.Window w = h.query(NS_A, 60);
        assertEquals(2, w.transitions().size());
        History.TransitionSeries derived = w.transitions().stream().filter(History.TransitionSeries::derived).findFirst().orElseThrow();
        assertEquals(TIME_WAIT, derived.to());
        assertArrayEquals(new float[]{0, 30}, derived.rate());
    }

    @Test
    void statesSumOverNamespacesUnlessOneIsAsked() {
        History h = new History();
        h.maybeRecord(snap(T0, Map.of(NS_A, counts(TIME_WAIT, 3), NS_B, counts(TIME_WAIT, 4, LISTEN, 1)), List.of(), List.of()));
        assertArrayEquals(new float[]{7}, h.query(null, 10).states().get(TIME_WAIT));
        assertArrayEquals(new float[]{3}, h.query(NS_A, 10).states().get(TIME_WAIT));
        assertArrayEquals(new float[]{1}, h.query(NS_B, 10).states().get(LISTEN));
        assertArrayEquals(new float[]{0}, h.query(12345L, 10).states().get(LISTEN));
    }

    @Test
    void keepsOneHourAndTheWindowAsked() {
        History h = new History();
        for (int i = 0; i < 4000; i++) {
            h.maybeRecord(snap(T0 + i * 1000L, Map.of(NS_A, counts(ESTABLISHED, i)), List.of(), List.of()));
        }
        History.Window hour = h.query(NS_A, 100_000);
        assertEquals(History.CAPACITY, hour.time().length);
        assertEquals(T0 / 1000 + 4000 - 3600, hour.time()[0]);
        assertEquals(400f, hour.states().get(ESTABLISHED)[0]);
        assertEquals(3999f, hour.states().get(ESTABLISHED)[3599]);
        History.Window last = h.query(NS_A, 10);
        assertEquals(10, last.time().length);
        assertEquals(T0 / 1000 + 3999, last.time()[9]);
    }

    @Test
    void memoryIsBoundedAndIdleSeriesGoAway() {
        History h = new History();
        // 2,000 namespaces, each with one busy state: more series than the limit
        Map<Long, Map<TcpState, Long>> many = new HashMap<>();
        for (long ns = 1; ns <= 2000; ns++) many.put(ns, counts(ESTABLISHED, 1));
        h.maybeRecord(snap(T0, many, List.of(), List.of()));
        assertTrue(h.seriesCount() <= History.MAX_SERIES + TcpState.values().length, "series: " + h.seriesCount());
        History.Window w = h.query(null, 10);
        assertTrue(w.seriesDropped() > 0);
        // the host-wide sum is exact even so
        assertArrayEquals(new float[]{2000}, w.states().get(ESTABLISHED));

        // an hour of zeros later, the idle series are gone
        for (int i = 1; i <= History.CAPACITY + 61; i++) {
            h.maybeRecord(snap(T0 + i * 1000L, Map.of(), List.of(), List.of()));
        }
        assertEquals(0, h.seriesCount());
    }

    @Test
    void theClockGoingBackStartsAfresh() {
        History h = new History();
        h.maybeRecord(snap(T0, Map.of(NS_A, counts(LISTEN, 1)), List.of(), List.of()));
        h.maybeRecord(snap(T0 + 1000, Map.of(NS_A, counts(LISTEN, 2)), List.of(), List.of()));
        h.maybeRecord(snap(T0 + 500, Map.of(NS_A, counts(LISTEN, 9)), List.of(), List.of())); // a small step: ignored
        assertArrayEquals(new float[]{1, 2}, h.query(NS_A, 10).states().get(LISTEN));
        h.maybeRecord(snap(T0 - 3_600_000, Map.of(NS_A, counts(LISTEN, 5)), List.of(), List.of()));
        History.Window w = h.query(NS_A, 10);
        assertArrayEquals(new long[]{(T0 - 3_600_000) / 1000}, w.time());
        assertArrayEquals(new float[]{5}, w.states().get(LISTEN));
    }

    @Test
    void listenersKeepQueuesAndCounterRates() {
        History h = new History();
        List<ListenerStatus> before = List.of(listener(0, 0, 0), other());
        List<ListenerStatus> after = List.of(listener(5, 3, 46), other());
        h.maybeRecord(snap(T0, Map.of(), List.of(), before));
        h.maybeRecord(snap(T0 + 1000, Map.of(), List.of(), after));
        h.maybeRecord(snap(T0 + 2000, Map.of(), List.of(), after));
        History.ListenerWindow w = h.listener(NS_A, "0.0.0.0", 8080, 60);
        assertNotNull(w);
        assertEquals(4, w.acceptQueueMax());
        assertArrayEquals(new float[]{0, 5, 5}, w.fields().get("acceptQueue"));
        assertArrayEquals(new float[]{0, 3, 3}, w.fields().get("synQueue"));
        assertArrayEquals(new float[]{0, 46, 0}, w.fields().get("overflows"));
        // the address is optional: listeners on that port are summed
        assertArrayEquals(new float[]{0, 46, 0}, h.listener(NS_A, null, 8080, 60).fields().get("overflows"));
        assertNull(h.listener(NS_B, null, 8080, 60), "another namespace");
        assertNull(h.listener(NS_A, null, 9, 60), "another port");
        // an idle listener is known, with zeros, and costs no series
        History.ListenerWindow idle = h.listener(NS_A, "127.0.0.1", 22, 60);
        assertNotNull(idle);
        assertArrayEquals(new float[]{0, 0, 0}, idle.fields().get("acceptQueue"));
    }

    static ListenerStatus listener(int aq, int sq, long overflows) {
        return new ListenerStatus(NS_A, "0.0.0.0", 8080, aq, 4, sq, 128, overflows, overflows, 0, 0, 0,
                OwnerInfo.UNKNOWN, false, ListenerStatus.VERDICT_OK);
    }

    static ListenerStatus other() {
        return new ListenerStatus(NS_A, "127.0.0.1", 22, 0, 128, 0, 128, 0, 0, 0, 0, 0,
                OwnerInfo.UNKNOWN, false, ListenerStatus.VERDICT_OK);
    }

    @Test
    void theCheapPathDoesNothingWithinASecond() {
        History h = new History();
        h.maybeRecord(snap(T0, Map.of(NS_A, counts(LISTEN, 1)), List.of(), List.of()));
        long start = System.nanoTime();
        Snapshot same = snap(T0 + 999, Map.of(NS_A, counts(LISTEN, 2)), List.of(), List.of());
        for (int i = 0; i < 1_000_000; i++) h.maybeRecord(same);
        long perCallNs = (System.nanoTime() - start) / 1_000_000;
        assertTrue(perCallNs < 1000, "maybeRecord within a second took " + perCallNs + " ns");
        assertArrayEquals(new float[]{1}, h.query(NS_A, 10).states().get(LISTEN));
    }

    static History.TransitionSeries find(History.Window w, TcpState from, TcpState to) {
        List<History.TransitionSeries> found = new ArrayList<>();
        for (History.TransitionSeries t : w.transitions()) if (t.from() == from && t.to() == to && !t.derived()) found.add(t);
        assertEquals(1, found.size(), from + "->" + to + " in " + w.transitions());
        return found.get(0);
    }
}
