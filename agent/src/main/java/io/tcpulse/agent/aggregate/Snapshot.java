package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.util.List;
import java.util.Map;

/**
 * Immutable picture of the kernel's TCP state, published by the aggregator and read
 * without locks by HTTP handlers, metrics and alert rules.
 */
public record Snapshot(
        long wallMillis,
        Health health,
        /* per netns inode: every TcpState.COUNTED present, zeros included */
        Map<Long, Map<TcpState, Long>> states,
        List<TransitionCount> transitions,
        Map<Long, Latency> latency,
        /* newest first, bounded */
        List<Event> recent,
        /* listening sockets from the last walk */
        List<SocketRecord> listeners,
        /* per listener: queues, overflows, owner, verdict (issue 3) */
        List<ListenerStatus> listenerStatus,
        /* per netns: TIME_WAIT ledger and CLOSE_WAIT by owner (issue 4) */
        Map<Long, TimeWaitReport> timewait,
        Map<Long, CloseWaitReport> closewait,
        /* per netns: TcpExt counters from /proc/net/netstat, and RSTs sent/received */
        Map<Long, Map<String, Long>> netstat,
        Map<Long, Resets> resets,
        /* per netns: destinations this host connected to (issue 14) */
        Map<Long, List<PeerReport>> peers) {

    /** Without destinations. */
    public Snapshot(long wallMillis, Health health, Map<Long, Map<TcpState, Long>> states, List<TransitionCount> transitions,
                    Map<Long, Latency> latency, List<Event> recent, List<SocketRecord> listeners, List<ListenerStatus> listenerStatus,
                    Map<Long, TimeWaitReport> timewait, Map<Long, CloseWaitReport> closewait, Map<Long, Map<String, Long>> netstat,
                    Map<Long, Resets> resets) {
        this(wallMillis, health, states, transitions, latency, recent, listeners, listenerStatus, timewait, closewait, netstat,
                resets, Map.of());
    }

    /** RSTs of one namespace, exact (kernel counters). */
    public record Resets(long sent, long received, List<ResetPeer> byPeer) {
        public Resets(long sent, long received) {
            this(sent, received, List.of());
        }
    }

    /** RSTs exchanged with one peer on one local port, by the socket state (from events, sampling-weighted). */
    public record ResetPeer(String peer, int localPort, String state, String direction, long count) {}

    /** The same picture with another health (and time). */
    public Snapshot withHealth(long wallMillis, Health health) {
        return new Snapshot(wallMillis, health, states, transitions, latency, recent, listeners, listenerStatus,
                timewait, closewait, netstat, resets, peers);
    }

    /** State counts of one namespace, or summed over all when netns is null; zeros included. */
    public Map<TcpState, Long> statesOf(Long netns) {
        Map<TcpState, Long> out = new java.util.EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) out.put(s, 0L);
        for (var e : states.entrySet()) {
            if (netns != null && !netns.equals(e.getKey())) continue;
            e.getValue().forEach((s, n) -> out.merge(s, n, Long::sum));
        }
        return out;
    }

    /** Latency of one namespace, or merged over all when netns is null. */
    public Latency latencyOf(Long netns) {
        Latency out = Latency.empty();
        for (var e : latency.entrySet()) {
            if (netns == null || netns.equals(e.getKey())) out.add(e.getValue());
        }
        return out;
    }
}
