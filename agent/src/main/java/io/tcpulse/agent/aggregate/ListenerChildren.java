package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The connections listeners accepted, by namespace and local port, from the state events of
 * sockets that did not connect(): how many were accepted (LISTEN>SYN_RECV) and, at their end,
 * what they carried. Rows of ports no listener holds are dropped at each walk of their
 * namespace; between walks a namespace keeps at most MAX_PORTS_PER_NETNS (a burst past it
 * is counted in {@link #dropped}).
 */
final class ListenerChildren {
    static final int MAX_PORTS_PER_NETNS = 4096;

    static final class Row {
        long accepted;
        final Carried carried = new Carried();
    }

    private final Map<Long, Map<Integer, Row>> byNetns = new HashMap<>();
    private long dropped;

    void add(ByteBuffer b, int at, int from, int to, int ratio) {
        if ((EventDecoder.flags(b, at) & Event.F_ACTIVE) != 0) return;
        boolean accepted = from == TcpState.LISTEN.kernel && to == TcpState.SYN_RECV.kernel;
        // a listener's own end (LISTEN>CLOSE) carried nothing
        boolean closed = to == TcpState.CLOSE.kernel && from != TcpState.LISTEN.kernel;
        if (!accepted && !closed) return;
        int port = EventDecoder.localPort(b, at);
        if (port == 0) return;
        Map<Integer, Row> m = byNetns.computeIfAbsent(EventDecoder.netns(b, at), n -> new HashMap<>());
        Row r = m.get(port);
        if (r == null) {
            if (m.size() >= MAX_PORTS_PER_NETNS) {
                dropped += ratio;
                return;
            }
            r = new Row();
            m.put(port, r);
        }
        if (accepted) r.accepted += ratio;
        else r.carried.addClosed(b, at, ratio);
    }

    Row row(long netns, int port) {
        Map<Integer, Row> m = byNetns.get(netns);
        return m == null ? null : m.get(port);
    }

    /** After a walk of netns: only the ports it found listening keep their rows. */
    void keepOnly(long netns, Set<Integer> listening) {
        Map<Integer, Row> m = byNetns.get(netns);
        if (m != null) m.keySet().retainAll(listening);
    }

    void evict(long netns) {
        byNetns.remove(netns);
    }

    /** Events of ports past the bound, not counted anywhere. */
    long dropped() {
        return dropped;
    }
}
