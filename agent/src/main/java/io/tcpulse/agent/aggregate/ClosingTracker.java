package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.model.SocketRecord;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The closing side at each walk (single writer): the TIME_WAIT ledger with a port
 * exhaustion forecast per destination, and CLOSE_WAIT sockets by owner with their
 * ages and growth, flagged as leaking when they pile up or stay.
 */
final class ClosingTracker {
    static final int TOP = 100;
    static final int SOCKETS_PER_OWNER = 1000;
    private static final long HISTORY_MS = 10 * 60_000;

    private final long closeWaitMinAgeMs;
    private final Map<Long, Long> firstSeenNs = new HashMap<>();                   // sockId -> mono ns
    private final Map<OwnerKey, ArrayDeque<long[]>> ownerHistory = new HashMap<>(); // (wall ms, count)
    private final Map<WalkAccumulator.Dest, long[]> lastDest = new HashMap<>();    // (wall ms, ports in use)
    private final Map<Long, long[]> lastTwEntries = new HashMap<>();               // netns -> (wall ms, entries)

    record OwnerKey(long netns, int pid, String comm, String unit) {}

    ClosingTracker(long closeWaitMinAgeMs) {
        this.closeWaitMinAgeMs = closeWaitMinAgeMs;
    }

    /** TIME_WAIT ledgers, per walked namespace. twEntries: timewait entries counted by the kernel. */
    Map<Long, TimeWaitReport> timewait(WalkAccumulator w, Map<Long, NetnsInfo> info, Map<Long, Long> twEntries, long wallMs) {
        Map<Long, List<TimeWaitReport.Remote>> remotes = new HashMap<>();
        Set<WalkAccumulator.Dest> seen = new HashSet<>();
        for (var e : w.outbound.entrySet()) {
            WalkAccumulator.Dest d = e.getKey();
            WalkAccumulator.DestCount c = e.getValue();
            if (c.timeWait == 0) continue; // the ledger lists destinations holding TIME_WAIT
            seen.add(d);
            NetnsInfo ni = info.get(d.netns());
            long range = ni == null ? 28232 : ni.ephemeralPorts();
            long inUse = c.timeWait + c.otherTw + c.live;
            long[] last = lastDest.put(d, new long[] {wallMs, inUse});
            Double eta = null;
            if (last != null && wallMs > last[0] && inUse > last[1]) {
                double perSec = (inUse - last[1]) * 1000.0 / (wallMs - last[0]);
                eta = Math.max(0, range - inUse) / perSec;
            }
            remotes.computeIfAbsent(d.netns(), n -> new ArrayList<>()).add(new TimeWaitReport.Remote(
                    d.remote(), d.local(), c.timeWait, inUse, range, range == 0 ? 1.0 : (double) inUse / range, eta));
        }
        lastDest.keySet().retainAll(seen);

        Map<Long, TimeWaitReport> out = new HashMap<>();
        for (long netns : w.walkedNetns) {
            List<TimeWaitReport.Remote> rs = remotes.getOrDefault(netns, new ArrayList<>());
            rs.sort(Comparator.comparingLong(TimeWaitReport.Remote::count).reversed()
                    .thenComparing(TimeWaitReport.Remote::remote));
            List<TimeWaitReport.LocalPort> ports = new ArrayList<>();
            w.timeWaitByLocalPort.getOrDefault(netns, Map.of())
                    .forEach((p, n) -> ports.add(new TimeWaitReport.LocalPort(p, n)));
            ports.sort(Comparator.comparingLong(TimeWaitReport.LocalPort::count).reversed()
                    .thenComparingInt(TimeWaitReport.LocalPort::port));
            long entries = twEntries.getOrDefault(netns, 0L);
            long[] last = lastTwEntries.put(netns, new long[] {wallMs, entries});
            double rate = last == null || wallMs <= last[0] ? 0 : Math.max(0, entries - last[1]) * 1000.0 / (wallMs - last[0]);
            NetnsInfo ni = info.get(netns);
            out.put(netns, new TimeWaitReport(w.timeWaitTotal.getOrDefault(netns, 0L), rate,
                    List.copyOf(rs.subList(0, Math.min(TOP, rs.size()))),
                    List.copyOf(ports.subList(0, Math.min(TOP, ports.size()))),
                    ni == null ? 0 : ni.maxTwBuckets(), ni == null ? 0 : ni.tcpExt("TCPTimeWaitOverflow")));
        }
        return out;
    }

    /** CLOSE_WAIT by owner, lingering FIN_WAIT2/LAST_ACK by peer and orphans, per walked namespace. */
    Map<Long, CloseWaitReport> closewait(WalkAccumulator w, Function<SocketRecord, OwnerInfo> owner,
                                         Map<Long, NetnsInfo> info, long monoNs, long wallMs) {
        Map<OwnerKey, List<CloseWaitReport.Sock>> socks = new HashMap<>();
        Map<OwnerKey, Double> oldest = new HashMap<>();
        Map<OwnerKey, Long> counts = new HashMap<>();
        Map<OwnerKey, Map<Integer, OwnerInfo.HolderInfo>> holders = new HashMap<>(); // sockets with several holders
        Set<OwnerKey> unheld = new HashSet<>();
        Set<Long> alive = new HashSet<>();
        for (SocketRecord r : w.lingering) alive.add(r.sockId());
        for (SocketRecord r : w.closeWait) {
            alive.add(r.sockId());
            long since = r.stateSinceNs() != 0 ? r.stateSinceNs() : firstSeenNs.computeIfAbsent(r.sockId(), id -> monoNs);
            double age = Math.max(0, monoNs - since) / 1e9;
            OwnerInfo o = owner.apply(r);
            OwnerKey k = new OwnerKey(r.netns(), o.pid(), o.comm(), o.unit());
            List<CloseWaitReport.Sock> l = socks.computeIfAbsent(k, x -> new ArrayList<>());
            if (l.size() < SOCKETS_PER_OWNER) {
                l.add(new CloseWaitReport.Sock(io.tcpulse.agent.model.Addresses.endpoint(r.remote(), r.remotePort()), r.localPort(), age));
            }
            oldest.merge(k, age, Math::max);
            counts.merge(k, 1L, Long::sum);
            if (o.unheld()) unheld.add(k);
            if (o.holders() != null && !o.holders().isEmpty()) {
                Map<Integer, OwnerInfo.HolderInfo> byPid = holders.computeIfAbsent(k, x -> new java.util.TreeMap<>());
                // a process that created one of the sockets stays marked as such
                for (OwnerInfo.HolderInfo h : o.holders()) byPid.merge(h.pid(), h, (a, b) -> a.creator() ? a : b);
            }
        }
        firstSeenNs.keySet().retainAll(alive);

        Map<Long, List<CloseWaitReport.ByOwner>> byNetns = new HashMap<>();
        for (var e : counts.entrySet()) {
            OwnerKey k = e.getKey();
            long n = e.getValue();
            ArrayDeque<long[]> h = ownerHistory.computeIfAbsent(k, x -> new ArrayDeque<>());
            record(h, wallMs, n);
            double growth = 0;
            long[] first = h.peekFirst();
            if (first != null && wallMs - first[0] >= 1000) growth = (n - first[1]) * 60_000.0 / (wallMs - first[0]);
            double oldestAge = oldest.getOrDefault(k, 0.0);
            boolean leaking = oldestAge * 1000 >= closeWaitMinAgeMs || (growth > 0 && risingSteadily(h));
            List<CloseWaitReport.Sock> l = socks.getOrDefault(k, List.of());
            List<CloseWaitReport.Sock> sorted = new ArrayList<>(l);
            sorted.sort(Comparator.comparingDouble(CloseWaitReport.Sock::ageSeconds).reversed());
            byNetns.computeIfAbsent(k.netns(), x -> new ArrayList<>()).add(new CloseWaitReport.ByOwner(
                    k.pid(), k.comm(), k.unit(), n, oldestAge, growth, leaking, List.copyOf(sorted),
                    holders.containsKey(k) ? List.copyOf(holders.get(k).values()) : unheld.contains(k) ? List.of() : null));
        }
        // owners without CLOSE_WAIT any more leave the report (and their history)
        ownerHistory.keySet().retainAll(counts.keySet());

        Map<Long, CloseWaitReport> out = new HashMap<>();
        for (long netns : w.walkedNetns) {
            List<CloseWaitReport.ByOwner> owners = byNetns.getOrDefault(netns, new ArrayList<>());
            owners.sort(Comparator.comparingLong(CloseWaitReport.ByOwner::count).reversed());
            long total = owners.stream().mapToLong(CloseWaitReport.ByOwner::count).sum();
            NetnsInfo ni = info.get(netns);
            out.put(netns, new CloseWaitReport(total, List.copyOf(owners),
                    lingering(w, netns, ni == null ? 60 : ni.finTimeoutSeconds(), monoNs), ni == null ? 0 : ni.orphans()));
        }
        return out;
    }

    /** Full FIN_WAIT2/LAST_ACK sockets of a namespace in their state longer than tcp_fin_timeout, by peer. */
    private List<CloseWaitReport.Lingering> lingering(WalkAccumulator w, long netns, int finTimeoutSeconds, long monoNs) {
        Map<String, long[]> count = new HashMap<>();   // "peer|state" -> count
        Map<String, Double> oldest = new HashMap<>();
        for (SocketRecord r : w.lingering) {
            if (r.netns() != netns) continue;
            long since = r.stateSinceNs() != 0 ? r.stateSinceNs() : firstSeenNs.computeIfAbsent(r.sockId(), id -> monoNs);
            double age = Math.max(0, monoNs - since) / 1e9;
            if (age < finTimeoutSeconds) continue;
            String key = io.tcpulse.agent.model.Addresses.endpoint(r.remote(), r.remotePort()) + "|" + r.state().name();
            count.computeIfAbsent(key, k -> new long[1])[0]++;
            oldest.merge(key, age, Math::max);
        }
        List<CloseWaitReport.Lingering> out = new ArrayList<>();
        count.forEach((k, n) -> {
            String[] ps = k.split("\\|");
            out.add(new CloseWaitReport.Lingering(ps[0], ps[1], n[0], oldest.get(k)));
        });
        out.sort(Comparator.comparingLong(CloseWaitReport.Lingering::count).reversed());
        return List.copyOf(out.subList(0, Math.min(TOP, out.size())));
    }

    /** Three or more samples, each no lower than the one before, the last above the first. */
    /** The last minute at about one sample a second; before that one per 20 s: at most ~95 samples an owner, not 300 (or 6,000 at 100 ms walks). */
    static final long RECENT_MS = 60_000, RECENT_SPACING_MS = 1000, OLD_SPACING_MS = 20_000;

    /**
     * Appends (wall ms, count) to an owner's history, downsampled: 50,000 owners in
     * CLOSE_WAIT would otherwise keep 300 samples each for 10 minutes.
     */
    static void record(ArrayDeque<long[]> h, long wallMs, long n) {
        long[] last = h.peekLast();
        if (last != null && h.size() >= 2) {
            var it = h.descendingIterator();
            it.next();
            long[] before = it.next();
            if (wallMs - before[0] < RECENT_SPACING_MS) { // the newest sample moves until a second has passed
                last[0] = wallMs;
                last[1] = n;
            } else {
                h.addLast(new long[] {wallMs, n});
            }
        } else {
            h.addLast(new long[] {wallMs, n});
        }
        while (!h.isEmpty() && wallMs - h.peekFirst()[0] > HISTORY_MS) h.removeFirst();
        long kept = Long.MIN_VALUE;
        for (var it = h.iterator(); it.hasNext(); ) { // thin what is older than a minute, the oldest kept
            long[] s = it.next();
            if (wallMs - s[0] <= RECENT_MS) break;
            if (kept != Long.MIN_VALUE && s[0] - kept < OLD_SPACING_MS) it.remove();
            else kept = s[0];
        }
    }

    private static boolean risingSteadily(ArrayDeque<long[]> h) {
        if (h.size() < 3) return false;
        long prev = -1, first = h.peekFirst()[1], last = h.peekLast()[1];
        for (long[] s : h) {
            if (s[1] < prev) return false;
            prev = s[1];
        }
        return last > first;
    }
}
