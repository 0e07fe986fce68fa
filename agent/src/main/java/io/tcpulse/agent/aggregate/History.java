package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The last hour, one sample per second: state counts and transition rates per network
 * namespace (and summed over all of them), and per listener its queues and the rates of
 * its counters. Kept by the agent so that a page opened now shows the past hour at once.
 *
 * <p>Written by the aggregating thread through {@link #maybeRecord}, which is called with
 * every published snapshot (every 200 ms) and does nothing but compare two longs until a
 * new second has begun. Read by HTTP handlers through {@link #query} and
 * {@link #listener}; both sides take this object's lock for the few microseconds a
 * sample or a copy takes.
 *
 * <p>Memory is bounded: one {@code float[3600]} (14 KiB) per series, a series exists only
 * once its value has been non-zero, it is dropped after an hour of zeros, and at most
 * {@link #MAX_SERIES} series of single namespaces and listeners exist at once (about
 * 14 MiB); the host-wide sums do not count against that limit and are always kept.
 */
public final class History {
    /** Seconds kept: one hour. */
    public static final int CAPACITY = 3600;
    /** Series of single namespaces and listeners, at most. */
    public static final int MAX_SERIES = 1024;
    /** Namespace key of the host-wide sums. Real namespace inodes are never 0. */
    static final long ALL = 0;
    private static final long EVICT_EVERY_SECONDS = 60;

    private static final int KIND_STATE = 0, KIND_TRANSITION = 1, KIND_LISTENER = 2;
    /** Listener fields kept as series: two gauges, then four rates of counters. */
    public static final String[] LISTENER_FIELDS = {
        "acceptQueue", "synQueue", "overflows", "drops", "synAckRetransmits", "resetsSent" };
    private static final int LF_ACCEPT = 0, LF_SYN = 1, LF_OVERFLOWS = 2, LF_DROPS = 3, LF_SYNACK = 4, LF_RST = 5;
    private static final TcpState[] STATES = TcpState.values();

    /**
     * Which series: x/y by kind. State: x = state ordinal. Transition: x = from ordinal,
     * y = to ordinal, derived = timewait hand-over. Listener: x = port, y = field, addr.
     */
    private record Key(long netns, int kind, int x, int y, boolean derived, String addr) {}

    private static final class Series {
        final float[] values = new float[CAPACITY];
        long lastNonZero;
    }

    /** The cumulative counters a rate is computed from, per transition / listener. */
    private record TransitionId(long netns, TcpState from, TcpState to, boolean derived) {}

    private record ListenerId(long netns, String addr, int port) {}

    private record ListenerCounters(long overflows, long drops, long synAckRetransmits, long resetsSent,
                                    int acceptQueueMax, int synQueueMax) {}

    /* written by the recording thread only: the cheap check reads it without the lock */
    private long lastSecond = Long.MIN_VALUE;

    /* guarded by this */
    private final long[] slotSecond = new long[CAPACITY];
    private final Map<Key, Series> series = new HashMap<>();
    private int boundedSeries;
    private long droppedSeries;
    private long lastWallMillis;
    private long lastEviction;
    private Map<TransitionId, Long> lastTransitions;
    private Map<ListenerId, ListenerCounters> lastListeners = Map.of();

    public History() {
        Arrays.fill(slotSecond, Long.MIN_VALUE);
    }

    /**
     * Records a sample when the snapshot's second is newer than the last one recorded;
     * otherwise returns at once. Called on the aggregating thread with every snapshot.
     */
    public void maybeRecord(Snapshot s) {
        long second = Math.floorDiv(s.wallMillis(), 1000);
        long last = lastSecond;
        if (second == last) return;
        if (last != Long.MIN_VALUE && second < last) {
            if (second >= last - 2) return; // a small step back: wait for the clock to catch up
            clear();                         // a jump back: the hour would no longer line up
        }
        record(s, second);
    }

    private synchronized void clear() {
        Arrays.fill(slotSecond, Long.MIN_VALUE);
        series.clear();
        boundedSeries = 0;
        lastTransitions = null;
        lastListeners = Map.of();
        lastSecond = Long.MIN_VALUE;
    }

    private synchronized void record(Snapshot s, long second) {
        int slot = slot(second);
        slotSecond[slot] = second;
        for (Series x : series.values()) x.values[slot] = 0;
        long elapsedMillis = lastSecond == Long.MIN_VALUE ? 0 : s.wallMillis() - lastWallMillis;

        /* state counts, per namespace and summed */
        long[] all = new long[STATES.length];
        for (var ns : s.states().entrySet()) {
            for (var e : ns.getValue().entrySet()) {
                long n = e.getValue();
                if (n == 0) continue;
                all[e.getKey().ordinal()] += n;
                put(new Key(ns.getKey(), KIND_STATE, e.getKey().ordinal(), 0, false, null), slot, second, n);
            }
        }
        for (int i = 0; i < all.length; i++) {
            if (all[i] != 0) put(new Key(ALL, KIND_STATE, i, 0, false, null), slot, second, all[i]);
        }

        /* transition rates from the exact counters; the first sample only sets the baseline */
        Map<TransitionId, Long> counts = new HashMap<>();
        Map<Key, Double> allRates = new HashMap<>();
        for (TransitionCount t : s.transitions()) {
            if (t.from() == null || t.to() == null) continue;
            TransitionId id = new TransitionId(t.netns(), t.from(), t.to(), t.derived());
            counts.merge(id, t.count(), Long::sum);
        }
        if (lastTransitions != null && elapsedMillis > 0) {
            for (var e : counts.entrySet()) {
                long delta = e.getValue() - lastTransitions.getOrDefault(e.getKey(), 0L);
                if (delta <= 0) continue; // none, or a counter that restarted
                double rate = delta * 1000.0 / elapsedMillis;
                TransitionId id = e.getKey();
                put(new Key(id.netns(), KIND_TRANSITION, id.from().ordinal(), id.to().ordinal(), id.derived(), null),
                        slot, second, rate);
                allRates.merge(new Key(ALL, KIND_TRANSITION, id.from().ordinal(), id.to().ordinal(), id.derived(), null),
                        rate, Double::sum);
            }
        }
        allRates.forEach((k, rate) -> put(k, slot, second, rate));
        lastTransitions = counts;

        /* listeners: queue lengths, and rates of their counters */
        Map<ListenerId, ListenerCounters> listeners = new HashMap<>();
        for (ListenerStatus l : s.listenerStatus()) {
            ListenerId id = new ListenerId(l.netns(), l.addr(), l.port());
            ListenerCounters now = new ListenerCounters(l.overflows(), l.drops(), l.synAckRetransmits(),
                    l.resetsSent(), l.acceptQueueMax(), l.synQueueMax());
            listeners.put(id, now);
            putListener(id, LF_ACCEPT, slot, second, l.acceptQueue());
            putListener(id, LF_SYN, slot, second, l.synQueue());
            ListenerCounters before = lastListeners.get(id);
            if (before == null || elapsedMillis <= 0) continue;
            putListener(id, LF_OVERFLOWS, slot, second, rate(now.overflows() - before.overflows(), elapsedMillis));
            putListener(id, LF_DROPS, slot, second, rate(now.drops() - before.drops(), elapsedMillis));
            putListener(id, LF_SYNACK, slot, second,
                    rate(now.synAckRetransmits() - before.synAckRetransmits(), elapsedMillis));
            putListener(id, LF_RST, slot, second, rate(now.resetsSent() - before.resetsSent(), elapsedMillis));
        }
        lastListeners = listeners;

        lastWallMillis = s.wallMillis();
        lastSecond = second;
        if (second - lastEviction >= EVICT_EVERY_SECONDS) {
            evict(second);
            lastEviction = second;
        }
    }

    private static double rate(long delta, long elapsedMillis) {
        return delta <= 0 ? 0 : delta * 1000.0 / elapsedMillis;
    }

    private void putListener(ListenerId id, int field, int slot, long second, double value) {
        if (value != 0) put(new Key(id.netns(), KIND_LISTENER, id.port(), field, false, id.addr()), slot, second, value);
    }

    private void put(Key key, int slot, long second, double value) {
        Series x = series.get(key);
        if (x == null) {
            boolean bounded = key.netns() != ALL;
            if (bounded && boundedSeries >= MAX_SERIES) {
                droppedSeries++;
                return;
            }
            x = new Series();
            series.put(key, x);
            if (bounded) boundedSeries++;
        }
        x.values[slot] = (float) value;
        x.lastNonZero = second;
    }

    /** Drops the series that have been zero for the whole hour kept. */
    private void evict(long now) {
        for (Iterator<Map.Entry<Key, Series>> it = series.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (now - e.getValue().lastNonZero >= CAPACITY) {
                it.remove();
                if (e.getKey().netns() != ALL) boundedSeries--;
            }
        }
    }

    private static int slot(long second) {
        return (int) Math.floorMod(second, (long) CAPACITY);
    }

    // ---- reading ----

    /** One transition's rate per second over the window. */
    public record TransitionSeries(TcpState from, TcpState to, boolean derived, float[] rate) {}

    /**
     * A window of samples, oldest first: time in epoch seconds, state counts for every
     * {@link TcpState#COUNTED} state, and the transitions that happened in the window.
     * seriesDropped: series not kept because of {@link #MAX_SERIES} since the agent started.
     */
    public record Window(long[] time, Map<TcpState, float[]> states, List<TransitionSeries> transitions,
                         long seriesDropped) {}

    /** A listener's window: queue lengths, their limits as last seen, and counter rates per second. */
    public record ListenerWindow(long[] time, int acceptQueueMax, int synQueueMax, Map<String, float[]> fields) {}

    /** The last `seconds` seconds (1..3600) of one namespace, or of all when netns is null. */
    public synchronized Window query(Long netns, int seconds) {
        long key = netns == null ? ALL : netns;
        int[] slots = slotsOf(seconds);
        long[] time = new long[slots.length];
        for (int i = 0; i < slots.length; i++) time[i] = slotSecond[slots[i]];
        Map<TcpState, float[]> states = new EnumMap<>(TcpState.class);
        for (TcpState st : TcpState.COUNTED) {
            states.put(st, copy(series.get(new Key(key, KIND_STATE, st.ordinal(), 0, false, null)), slots));
        }
        List<TransitionSeries> transitions = new ArrayList<>();
        for (var e : series.entrySet()) {
            Key k = e.getKey();
            if (k.kind() != KIND_TRANSITION || k.netns() != key) continue;
            float[] rate = copy(e.getValue(), slots);
            if (allZero(rate)) continue;
            transitions.add(new TransitionSeries(STATES[k.x()], STATES[k.y()], k.derived(), rate));
        }
        transitions.sort((a, b) -> Double.compare(sum(b.rate()), sum(a.rate())));
        return new Window(time, Collections.unmodifiableMap(states), List.copyOf(transitions), droppedSeries);
    }

    /**
     * The last `seconds` seconds of the listeners on (netns, port), summed over their
     * addresses unless addr is given; null when no such listener was seen in the hour.
     */
    public synchronized ListenerWindow listener(long netns, String addr, int port, int seconds) {
        boolean known = false;
        int acceptMax = 0, synMax = 0;
        for (var e : lastListeners.entrySet()) {
            ListenerId id = e.getKey();
            if (id.netns() != netns || id.port() != port || (addr != null && !addr.equals(id.addr()))) continue;
            known = true;
            acceptMax += e.getValue().acceptQueueMax();
            synMax += e.getValue().synQueueMax();
        }
        int[] slots = slotsOf(seconds);
        long[] time = new long[slots.length];
        for (int i = 0; i < slots.length; i++) time[i] = slotSecond[slots[i]];
        Map<String, float[]> fields = new HashMap<>();
        for (String f : LISTENER_FIELDS) fields.put(f, new float[slots.length]);
        for (var e : series.entrySet()) {
            Key k = e.getKey();
            if (k.kind() != KIND_LISTENER || k.netns() != netns || k.x() != port
                    || (addr != null && !addr.equals(k.addr()))) continue;
            known = true;
            float[] into = fields.get(LISTENER_FIELDS[k.y()]);
            float[] values = e.getValue().values;
            for (int i = 0; i < slots.length; i++) into[i] += values[slots[i]];
        }
        return known ? new ListenerWindow(time, acceptMax, synMax, Collections.unmodifiableMap(fields)) : null;
    }

    /** Series currently kept (host-wide ones included), for tests and the benchmark. */
    public synchronized int seriesCount() {
        return series.size();
    }

    /** Slots holding a sample within the last `seconds` seconds, oldest first. */
    private int[] slotsOf(int seconds) {
        if (lastSecond == Long.MIN_VALUE) return new int[0];
        int n = Math.max(1, Math.min(CAPACITY, seconds));
        int[] out = new int[n];
        int count = 0;
        for (long sec = lastSecond - n + 1; sec <= lastSecond; sec++) {
            int slot = slot(sec);
            if (slotSecond[slot] == sec) out[count++] = slot;
        }
        return Arrays.copyOf(out, count);
    }

    private static float[] copy(Series x, int[] slots) {
        float[] out = new float[slots.length];
        if (x == null) return out;
        for (int i = 0; i < slots.length; i++) out[i] = x.values[slots[i]];
        return out;
    }

    private static boolean allZero(float[] a) {
        for (float v : a) if (v != 0) return false;
        return true;
    }

    private static double sum(float[] a) {
        double s = 0;
        for (float v : a) s += v;
        return s;
    }
}
