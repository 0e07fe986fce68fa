package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.TimeWaitReport;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Bounds the per-namespace series of /metrics: any local user can make thousands of
 * network namespaces. The agent's own namespace and the most active others keep their
 * netns label (limits.metricsNamespaces in all); every figure of the rest is added into
 * one namespace labelled "other", so sums over the host stay exact. What does not add up
 * (exhaustion ratios per destination, the syncookies flag) is left out for "other".
 */
final class NamespaceFold {
    private NamespaceFold() {}

    /** The netns value of the folded namespaces; PrometheusWriter labels it "other". */
    static final long OTHER = -1;

    /** The snapshot with at most keep namespaces of their own (the agent's among them), the rest as OTHER. */
    static Snapshot fold(Snapshot s, int keep, long ownNetns) {
        Set<Long> all = namespaces(s);
        if (all.size() <= keep) return s;
        Map<Long, Long> activity = new HashMap<>();
        s.states().forEach((ns, counts) -> activity.merge(ns, counts.values().stream().mapToLong(Long::longValue).sum(), Long::sum));
        for (TransitionCount t : s.transitions()) activity.merge(t.netns(), t.count(), Long::sum);
        List<Long> ranked = new ArrayList<>(all);
        ranked.sort(Comparator.comparing((Long ns) -> ns != ownNetns).thenComparing(ns -> -activity.getOrDefault(ns, 0L))
                .thenComparing(ns -> ns));
        Set<Long> kept = new HashSet<>(ranked.subList(0, Math.max(0, keep)));
        java.util.function.LongUnaryOperator to = ns -> kept.contains(ns) ? ns : OTHER;

        Map<Long, Map<TcpState, Long>> states = new HashMap<>();
        s.states().forEach((ns, counts) -> {
            Map<TcpState, Long> into = states.computeIfAbsent(to.applyAsLong(ns), k -> new EnumMap<>(TcpState.class));
            counts.forEach((st, n) -> into.merge(st, n, Long::sum));
        });
        List<TransitionCount> transitions = new ArrayList<>(s.transitions().size());
        for (TransitionCount t : s.transitions()) {
            transitions.add(kept.contains(t.netns()) ? t
                    : new TransitionCount(OTHER, t.from(), t.to(), t.derived(), t.count()));
        }
        Map<Long, Latency> latency = new HashMap<>();
        s.latency().forEach((ns, l) -> {
            long into = to.applyAsLong(ns);
            if (into == ns) latency.put(ns, l);
            else latency.computeIfAbsent(OTHER, k -> Latency.empty()).add(l);
        });
        List<ListenerStatus> listeners = new ArrayList<>(s.listenerStatus().size());
        for (ListenerStatus l : s.listenerStatus()) listeners.add(kept.contains(l.netns()) ? l : l.inNetns(OTHER));
        Map<Long, TimeWaitReport> timewait = new HashMap<>();
        s.timewait().forEach((ns, r) -> timewait.merge(to.applyAsLong(ns), r, (a, b) -> new TimeWaitReport(a.total() + b.total(),
                a.entriesPerSecond() + b.entriesPerSecond(), List.of(), List.of(), 0, a.overflows() + b.overflows())));
        Map<Long, CloseWaitReport> closewait = new HashMap<>();
        s.closewait().forEach((ns, r) -> closewait.merge(to.applyAsLong(ns), r, (a, b) -> {
            List<CloseWaitReport.ByOwner> owners = new ArrayList<>(a.byOwner());
            owners.addAll(b.byOwner());
            return new CloseWaitReport(a.total() + b.total(), owners, List.of(), a.orphans() + b.orphans());
        }));
        Map<Long, Map<String, Long>> netstat = new HashMap<>();
        s.netstat().forEach((ns, m) -> {
            Map<String, Long> into = netstat.computeIfAbsent(to.applyAsLong(ns), k -> new HashMap<>());
            m.forEach((k, v) -> into.merge(k, v, Long::sum));
        });
        Map<Long, Snapshot.Resets> resets = new HashMap<>();
        s.resets().forEach((ns, r) -> resets.merge(to.applyAsLong(ns), r,
                (a, b) -> new Snapshot.Resets(a.sent() + b.sent(), a.received() + b.received())));
        Map<Long, List<io.tcpulse.agent.aggregate.PeerReport>> peers = new HashMap<>();
        s.peers().forEach((ns, rows) -> peers.computeIfAbsent(to.applyAsLong(ns), k -> new ArrayList<>()).addAll(rows));
        return new Snapshot(s.wallMillis(), s.health(), states, transitions, latency, s.recent(), s.listeners(), listeners,
                timewait, closewait, netstat, resets, peers);
    }

    /** How many namespaces fold into OTHER with this bound. */
    static int folded(Snapshot s, int keep) {
        return Math.max(0, namespaces(s).size() - keep);
    }

    private static Set<Long> namespaces(Snapshot s) {
        Set<Long> all = new HashSet<>(s.states().keySet());
        for (TransitionCount t : s.transitions()) all.add(t.netns());
        all.addAll(s.latency().keySet());
        for (ListenerStatus l : s.listenerStatus()) all.add(l.netns());
        all.addAll(s.timewait().keySet());
        all.addAll(s.closewait().keySet());
        all.addAll(s.netstat().keySet());
        all.addAll(s.resets().keySet());
        all.addAll(s.peers().keySet());
        return all;
    }
}
