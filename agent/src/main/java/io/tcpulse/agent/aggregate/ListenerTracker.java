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
 * the namespace's TcpExt ListenOverflows and in the listener's sk_drops. So each walk
 * takes the namespace's ListenOverflows delta, gives the listeners their exact share,
 * and splits the rest among the listeners whose sk_drops rose, in proportion: exact
 * whenever one listener of a namespace overflows at a time.
 */
final class ListenerTracker {
    /** (netns, port) of the kernel's per-port counters. */
    record PortKey(long netns, int port) {}

    /** Per-port exact counters since the probe loaded. */
    record PortCounters(long overflows, long synAckRetransmits, long resetsSent, long resetsReceived) {
        static final PortCounters ZERO = new PortCounters(0, 0, 0, 0);
    }

    private final Map<Long, Long> overflowTotals = new HashMap<>();   // by listener socket id
    private final Map<Long, Long> lastDrops = new HashMap<>();        // by listener socket id
    private final Map<Long, Long> lastListenOverflows = new HashMap<>(); // by netns
    private final Map<Long, Long> unattributed = new HashMap<>();     // by netns, waiting for a listener
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
        Map<Long, Long> deltaDrops = new HashMap<>(), deltaExact = new HashMap<>();
        Set<PortKey> exactGiven = new HashSet<>();
        for (SocketRecord l : listeners) {
            // listeners born after the first walk count from zero: their whole life was seen
            long prev = lastDrops.getOrDefault(l.sockId(), firstWalkDone ? 0L : l.drops());
            deltaDrops.put(l.sockId(), Math.max(0, l.drops() - prev));
            PortKey key = new PortKey(l.netns(), l.localPort());
            long exact = exactGiven.add(key)
                    ? ports.getOrDefault(key, PortCounters.ZERO).overflows()
                      - lastPorts.getOrDefault(key, PortCounters.ZERO).overflows()
                    : 0;
            deltaExact.put(l.sockId(), Math.max(0, exact));
        }

        for (var e : info.entrySet()) {
            long netns = e.getKey();
            long now = e.getValue().tcpExt("ListenOverflows");
            // a namespace first seen after start began at zero; at start we only take a baseline
            long prev = lastListenOverflows.getOrDefault(netns, firstWalkDone ? 0L : now);
            lastListenOverflows.put(netns, now);
            List<SocketRecord> ls = byNetns.getOrDefault(netns, List.of());
            long exactSum = 0;
            for (SocketRecord l : ls) {
                long exact = deltaExact.get(l.sockId());
                exactSum += exact;
                overflowTotals.merge(l.sockId(), exact, Long::sum);
            }
            long residual = Math.max(0, now - prev - exactSum) + unattributed.getOrDefault(netns, 0L);
            unattributed.put(netns, distribute(residual, ls, deltaDrops, deltaExact));
        }

        List<ListenerStatus> out = new ArrayList<>(listeners.size());
        Set<Long> alive = new HashSet<>();
        for (SocketRecord l : listeners) {
            alive.add(l.sockId());
            lastDrops.put(l.sockId(), l.drops());
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
            out.add(new ListenerStatus(l.netns(), l.local().getHostAddress(), l.localPort(),
                    l.acceptQueue(), l.acceptQueueMax(), l.synQueue(), synMax,
                    overflowTotals.getOrDefault(l.sockId(), 0L), l.drops(), pc.synAckRetransmits(),
                    pc.resetsSent(), pc.resetsReceived(), owner.apply(l), syncookies, verdict));
        }
        // forget closed listeners
        lastDrops.keySet().retainAll(alive);
        verdictHistory.keySet().retainAll(alive);
        overflowTotals.keySet().retainAll(alive);
        lastPorts = Map.copyOf(ports);
        firstWalkDone = true;
        out.sort(Comparator.comparingLong(ListenerStatus::netns).thenComparingInt(ListenerStatus::port)
                .thenComparing(ListenerStatus::addr));
        return out;
    }

    /**
     * Splits the namespace's unexplained overflows among listeners whose drops rose
     * (beyond their exact share), in proportion; returns what no listener can take.
     */
    private long distribute(long residual, List<SocketRecord> ls, Map<Long, Long> deltaDrops, Map<Long, Long> deltaExact) {
        if (residual <= 0) return 0;
        long totalWeight = 0;
        for (SocketRecord l : ls) totalWeight += weight(l, deltaDrops, deltaExact);
        if (totalWeight == 0) return residual;
        long give = Math.min(residual, totalWeight);
        long given = 0;
        SocketRecord heaviest = null;
        for (SocketRecord l : ls) {
            long w = weight(l, deltaDrops, deltaExact);
            if (w == 0) continue;
            long share = give * w / totalWeight;
            overflowTotals.merge(l.sockId(), share, Long::sum);
            given += share;
            if (heaviest == null || w > weight(heaviest, deltaDrops, deltaExact)) heaviest = l;
        }
        overflowTotals.merge(heaviest.sockId(), give - given, Long::sum); // rounding remainder
        return residual - give;
    }

    private static long weight(SocketRecord l, Map<Long, Long> deltaDrops, Map<Long, Long> deltaExact) {
        return Math.max(0, deltaDrops.get(l.sockId()) - deltaExact.get(l.sockId()));
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
