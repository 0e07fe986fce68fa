package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.model.SocketRecord;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Builds the per-listener view at each walk (single writer: the probe thread).
 *
 * Accept-queue overflows per listener: the kernel reports overflows of the third ACK
 * through skb:kfree_skb (exact, per port), but an overflow on a SYN is only counted in
 * the namespace's TcpExt ListenOverflows and in the listener's sk_drops (and kernels
 * before 6.18 have no exact count at all). So the listeners get their exact share, and
 * the namespace's ListenOverflows not yet given to any listener go to the listeners
 * whose sk_drops exceed what they were given, in proportion: exact whenever one listener
 * of a namespace overflows at a time. All of it in totals since the first sight, not per
 * walk: the namespace's counters are read every few seconds, the walk more often, and a
 * delta seen at one walk must not be lost when the other side moved at another.
 */
final class ListenerTracker {
    /** (netns, port) of the kernel's per-port counters. */
    record PortKey(long netns, int port) {}

    /** Per-port exact counters since the probe loaded. */
    record PortCounters(long overflows, long synAckRetransmits, long resetsSent, long resetsReceived) {
        static final PortCounters ZERO = new PortCounters(0, 0, 0, 0);
    }

    private final Map<Long, Long> overflowTotals = new HashMap<>();   // by listener socket id: exact + given
    private final Map<Long, Long> dropsBase = new HashMap<>();        // by listener socket id: sk_drops at first sight
    private final Map<Long, Long> listenerNetns = new HashMap<>();    // by listener socket id
    private final Map<Long, Long> listenOverflowsBase = new HashMap<>(); // by netns: ListenOverflows at first sight
    private final Map<Long, Long> retired = new HashMap<>();          // by netns: totals of listeners now closed
    private Map<PortKey, PortCounters> lastPorts = Map.of();
    /* per listener socket id: (mono ms, SYN-ACK retransmits, overflows) samples within the verdict window */
    private final Map<Long, java.util.ArrayDeque<long[]>> verdictHistory = new HashMap<>();
    static final long VERDICT_WINDOW_MS = 10_000;
    private boolean firstWalkDone;

    /**
     * @param listeners LISTEN sockets of the walk
     * @param info      per walked netns, what it says of itself (may lack some namespaces)
     * @param ports     exact per-port counters read right after the walk
     * @param owner     resolves a listener's owner (pid/comm from the probe, else by inode)
     */
    List<ListenerStatus> update(List<SocketRecord> listeners, Map<Long, NetnsInfo> info,
                                Map<PortKey, PortCounters> ports, Function<SocketRecord, OwnerInfo> owner) {
        Map<Long, List<SocketRecord>> byNetns = new HashMap<>();
        for (SocketRecord l : listeners) byNetns.computeIfAbsent(l.netns(), n -> new ArrayList<>()).add(l);

        Map<Long, Long> totalsBefore = new HashMap<>(overflowTotals);
        Set<Long> alive = new HashSet<>();
        Set<PortKey> exactGiven = new HashSet<>();
        for (SocketRecord l : listeners) {
            alive.add(l.sockId());
            // listeners born after the first walk count from zero: their whole life was seen
            dropsBase.putIfAbsent(l.sockId(), firstWalkDone ? 0L : l.drops());
            listenerNetns.put(l.sockId(), l.netns());
            PortKey key = new PortKey(l.netns(), l.localPort());
            long exact = exactGiven.add(key)
                    ? ports.getOrDefault(key, PortCounters.ZERO).overflows()
                      - lastPorts.getOrDefault(key, PortCounters.ZERO).overflows()
                    : 0;
            overflowTotals.merge(l.sockId(), Math.max(0, exact), Long::sum);
        }
        // closed listeners: what they were given still explains their namespace's counter
        for (var it = listenerNetns.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (alive.contains(e.getKey())) continue;
            retired.merge(e.getValue(), overflowTotals.getOrDefault(e.getKey(), 0L), Long::sum);
            overflowTotals.remove(e.getKey());
            dropsBase.remove(e.getKey());
            it.remove();
        }

        for (var e : info.entrySet()) {
            long netns = e.getKey();
            long now = e.getValue().tcpExt("ListenOverflows");
            // a namespace first seen after start began at zero; at start we only take a baseline
            long base = listenOverflowsBase.computeIfAbsent(netns, n -> firstWalkDone ? 0L : now);
            List<SocketRecord> ls = byNetns.getOrDefault(netns, List.of());
            long given = retired.getOrDefault(netns, 0L);
            for (SocketRecord l : ls) given += overflowTotals.get(l.sockId());
            distribute(now - base - given, ls);
        }
        // namespaces gone (no counters read, no listener left)
        listenOverflowsBase.keySet().removeIf(n -> !info.containsKey(n) && !byNetns.containsKey(n));
        retired.keySet().removeIf(n -> !info.containsKey(n) && !byNetns.containsKey(n));

        List<ListenerStatus> out = new ArrayList<>(listeners.size());
        for (SocketRecord l : listeners) {
            PortKey key = new PortKey(l.netns(), l.localPort());
            PortCounters pc = ports.getOrDefault(key, PortCounters.ZERO);
            PortCounters before = lastPorts.getOrDefault(key, PortCounters.ZERO);
            NetnsInfo ni = info.get(l.netns());
            boolean syncookies = ni == null || ni.syncookies() != 0;
            int synMax = synQueueLimit(l.acceptQueueMax(), ni);
            // verdicts look at the last few seconds, so one quiet walk does not flip them
            long nowMs = System.nanoTime() / 1_000_000;
            long overflowTotal = overflowTotals.getOrDefault(l.sockId(), 0L);
            var h = verdictHistory.computeIfAbsent(l.sockId(), id -> new java.util.ArrayDeque<>());
            h.addLast(new long[] {nowMs, pc.synAckRetransmits(), overflowTotal});
            while (h.size() > 1 && nowMs - h.peekFirst()[0] > VERDICT_WINDOW_MS) h.removeFirst();
            long[] oldest = h.peekFirst();
            boolean fresh = !totalsBefore.containsKey(l.sockId()) && h.size() == 1;
            long synAckDelta = fresh ? pc.synAckRetransmits() - before.synAckRetransmits() : pc.synAckRetransmits() - oldest[1];
            long overflowDelta = fresh ? overflowTotal - totalsBefore.getOrDefault(l.sockId(), 0L) : overflowTotal - oldest[2];
            String verdict = verdict(l, synMax, synAckDelta, overflowDelta);
            out.add(new ListenerStatus(l.netns(), io.tcpulse.agent.model.Addresses.text(l.local()), l.localPort(),
                    l.acceptQueue(), l.acceptQueueMax(), l.synQueue(), synMax,
                    overflowTotals.getOrDefault(l.sockId(), 0L), l.drops(), pc.synAckRetransmits(),
                    pc.resetsSent(), pc.resetsReceived(), owner.apply(l), syncookies, verdict));
        }
        // forget closed listeners
        verdictHistory.keySet().retainAll(alive);
        lastPorts = Map.copyOf(ports);
        firstWalkDone = true;
        out.sort(Comparator.comparingLong(ListenerStatus::netns).thenComparingInt(ListenerStatus::port)
                .thenComparing(ListenerStatus::addr));
        return out;
    }

    /**
     * Gives the namespace's overflows no listener was given yet to the listeners whose
     * sk_drops since first sight exceed their total, in proportion; what none can take
     * waits for a later walk (their drops may not have been read yet).
     */
    private void distribute(long residual, List<SocketRecord> ls) {
        if (residual <= 0) return;
        long totalWeight = 0;
        for (SocketRecord l : ls) totalWeight += unexplainedDrops(l);
        if (totalWeight == 0) return;
        long give = Math.min(residual, totalWeight);
        long given = 0;
        SocketRecord heaviest = null;
        for (SocketRecord l : ls) {
            long w = unexplainedDrops(l);
            if (w == 0) continue;
            long share = give * w / totalWeight;
            overflowTotals.merge(l.sockId(), share, Long::sum);
            given += share;
            if (heaviest == null || w > unexplainedDrops(heaviest)) heaviest = l;
        }
        overflowTotals.merge(heaviest.sockId(), give - given, Long::sum); // rounding remainder
    }

    private long unexplainedDrops(SocketRecord l) {
        return Math.max(0, l.drops() - dropsBase.get(l.sockId()) - overflowTotals.get(l.sockId()));
    }

    /**
     * The SYN queue limit as tcp_conn_request applies it: the listener's backlog, and
     * without syncookies also 3/4 of tcp_max_syn_backlog.
     */
    static int synQueueLimit(int backlog, NetnsInfo ni) {
        if (ni == null || ni.syncookies() != 0) return backlog;
        return Math.min(backlog, ni.maxSynBacklog() - ni.maxSynBacklog() / 4);
    }

    /**
     * syn-flood-suspected: half-open sockets fill at least half the SYN queue while SYN-ACKs
     * are being retransmitted (clients do not complete handshakes). accept-queue-full:
     * the accept queue is at its limit, or overflowed since the last walk.
     */
    static String verdict(SocketRecord l, int synMax, long synAckDelta, long overflowDelta) {
        if (l.synQueue() > 0 && synAckDelta > 0 && 2L * l.synQueue() >= Math.max(1, synMax)) {
            return ListenerStatus.VERDICT_SYN_FLOOD;
        }
        if (l.acceptQueue() > 0 && l.acceptQueue() >= l.acceptQueueMax() || overflowDelta > 0) {
            return ListenerStatus.VERDICT_ACCEPT_QUEUE_FULL;
        }
        return ListenerStatus.VERDICT_OK;
    }

    /** Folds per-port counter rows into one value per (netns, port). */
    static Map<PortKey, PortCounters> fold(List<io.tcpulse.agent.probe.Probe.PortCount> rows) {
        Map<PortKey, long[]> acc = new HashMap<>();
        for (var r : rows) {
            long[] a = acc.computeIfAbsent(new PortKey(r.netns(), r.port()), k -> new long[5]);
            if (r.what() >= 1 && r.what() <= 4) a[r.what()] += r.count();
        }
        Map<PortKey, PortCounters> out = new HashMap<>();
        acc.forEach((k, a) -> out.put(k, new PortCounters(a[1], a[2], a[3], a[4])));
        return out;
    }
}
