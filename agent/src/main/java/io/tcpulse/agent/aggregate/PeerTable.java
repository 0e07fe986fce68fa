package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Connections this host opened, per destination (remote address and port) and namespace,
 * from the state events of connect()ed sockets, weighted by their sampling ratio: connects,
 * handshakes completed, and each failed connect by the socket's error when it closed in
 * SYN_SENT (the kernel's sk_err: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH...). Bounded per
 * namespace: past MAX_PEERS_PER_NETNS destinations the rest folds into one "other" row
 * (sums stay exact), and a full table keeps its busiest half, like {@link ResetPeers}.
 */
final class PeerTable {
    static final int MAX_PEERS_PER_NETNS = 4096;
    /** Failure reasons, in the order of {@link Row#failed}. */
    static final List<String> REASONS = List.of("refused", "timeout", "unreachable", "reset", "other");
    static final int MAX_OWNERS = 5;

    /* errno values of Linux on every architecture tcpulse builds for */
    private static final int ECONNRESET = 104, ETIMEDOUT = 110, ECONNREFUSED = 111, EHOSTUNREACH = 113,
            ENETUNREACH = 101, EHOSTDOWN = 112;

    /** family 0 is the "other" row */
    private record Key(int family, long addrHigh, long addrLow, int port) {}

    /** One destination's counts. */
    static final class Row {
        long connects, established;
        final long[] failed = new long[REASONS.size()];
        final Carried carried = new Carried();
        /* pid -> the processes that connected (the first few): comm and cgroup of the socket */
        final Map<Integer, Owner> owners = new LinkedHashMap<>();

        long activity() {
            long n = connects;
            for (long f : failed) n += f;
            return n;
        }

        void add(Row o) {
            connects += o.connects;
            established += o.established;
            for (int i = 0; i < failed.length; i++) failed[i] += o.failed[i];
            carried.add(o.carried);
            o.owners.forEach((pid, comm) -> {
                if (owners.size() < MAX_OWNERS) owners.putIfAbsent(pid, comm);
            });
        }
    }

    /** A process that connected: its name and its socket's cgroup (for its unit). */
    record Owner(String comm, long cgroupId) {}

    /** What a destination's row says, for snapshots (remote written as people read it). */
    record PeerCounts(String remote, long connects, long established, Map<String, Long> failed, Map<Integer, Owner> owners,
                      Carried carried) {}

    private final Map<Long, Map<Key, Row>> byNetns = new HashMap<>();

    /**
     * A state event: counted when it is a connect()ed socket's SYN_SENT entry or exit, or its
     * end (what it carried).
     */
    void add(ByteBuffer b, int at, int from, int to, int ratio) {
        if ((EventDecoder.flags(b, at) & Event.F_ACTIVE) == 0) return;
        boolean connect = from == TcpState.CLOSE.kernel && to == TcpState.SYN_SENT.kernel;
        boolean done = from == TcpState.SYN_SENT.kernel && to == TcpState.ESTABLISHED.kernel;
        boolean closed = to == TcpState.CLOSE.kernel;
        boolean failed = from == TcpState.SYN_SENT.kernel && closed;
        if (!connect && !done && !closed) return;
        Row row = row(EventDecoder.netns(b, at), new Key(EventDecoder.family(b, at), EventDecoder.remoteAddrHigh(b, at),
                EventDecoder.remoteAddrLow(b, at), EventDecoder.remotePort(b, at)));
        if (connect) {
            row.connects += ratio;
            int pid = EventDecoder.pid(b, at);
            if (pid != 0 && row.owners.size() < MAX_OWNERS && !row.owners.containsKey(pid)) {
                row.owners.put(pid, new Owner(EventDecoder.comm(b, at), EventDecoder.cgroupId(b, at)));
            }
        } else if (done) {
            row.established += ratio;
        } else {
            if (failed) row.failed[reason((int) EventDecoder.aux(b, at))] += ratio;
            row.carried.addClosed(b, at, ratio);
        }
    }

    /** The reason a connect failed, from the socket's error when it closed. */
    static int reason(int errno) {
        return switch (errno) {
            case ECONNREFUSED -> 0;
            case ETIMEDOUT -> 1;
            case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN -> 2;
            case ECONNRESET -> 3;
            default -> 4; // 0: its owner closed it while it connected
        };
    }

    private Row row(long netns, Key k) {
        Map<Key, Row> m = byNetns.computeIfAbsent(netns, n -> new HashMap<>());
        Row r = m.get(k);
        if (r == null) {
            if (m.size() >= MAX_PEERS_PER_NETNS) k = new Key(0, 0, 0, 0);
            r = m.computeIfAbsent(k, x -> new Row());
        }
        return r;
    }

    /** Forgets a namespace that is gone. */
    void evict(long netns) {
        byNetns.remove(netns);
    }

    /** A full table keeps its busiest half, the rest folded into "other": new destinations get a row again. */
    void decay() {
        for (Map<Key, Row> m : byNetns.values()) {
            if (m.size() < MAX_PEERS_PER_NETNS) continue;
            List<Map.Entry<Key, Row>> entries = new ArrayList<>(m.entrySet());
            entries.removeIf(e -> e.getKey().family() == 0);
            entries.sort(java.util.Comparator.comparingLong((Map.Entry<Key, Row> e) -> e.getValue().activity()));
            Row other = m.computeIfAbsent(new Key(0, 0, 0, 0), x -> new Row());
            for (Map.Entry<Key, Row> e : entries.subList(0, entries.size() / 2)) {
                m.remove(e.getKey());
                other.add(e.getValue());
            }
        }
    }

    int namespaces() { return byNetns.size(); }

    /** Every destination of every namespace, as counts. */
    Map<Long, List<PeerCounts>> counts() {
        Map<Long, List<PeerCounts>> out = new HashMap<>();
        byNetns.forEach((netns, m) -> {
            List<PeerCounts> rows = new ArrayList<>(m.size());
            m.forEach((k, r) -> {
                Map<String, Long> failed = new LinkedHashMap<>();
                for (int i = 0; i < REASONS.size(); i++) failed.put(REASONS.get(i), r.failed[i]);
                String remote = k.family() == 0 ? "other"
                        : io.tcpulse.agent.model.Addresses.endpoint(EventDecoder.formatAddress(k.family(), k.addrHigh(), k.addrLow()), k.port());
                rows.add(new PeerCounts(remote, r.connects, r.established, failed, Map.copyOf(r.owners), r.carried.copy()));
            });
            out.put(netns, List.copyOf(rows));
        });
        return out;
    }
}
