package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * RSTs per (peer address, local port, state, direction) from RST events, weighted by their
 * sampling ratio; bounded per namespace (the rest folds into peer "other"). Keys hold the
 * raw address: a storm of RSTs costs a map update each, addresses are formatted on read.
 */
final class ResetPeers {
    static final int MAX_KEYS_PER_NETNS = 4096;
    static final int TOP = 50;

    /** family 0 is the "other" bucket */
    private record Key(int family, long addrHigh, long addrLow, int localPort, int state, boolean sent) {
        boolean is(int family, long addrHigh, long addrLow, int localPort, int state, boolean sent) {
            return this.family == family && this.addrHigh == addrHigh && this.addrLow == addrLow
                    && this.localPort == localPort && this.state == state && this.sent == sent;
        }
    }

    private final Map<Long, Map<Key, long[]>> byNetns = new HashMap<>();
    /* RSTs come in runs with the same key (a storm, a scan): the last one skips the maps */
    private long lastNetns = -1;
    private Key lastKey;
    private long[] lastCount;

    void add(ByteBuffer b, int at) {
        long netns = EventDecoder.netns(b, at);
        boolean sent = EventDecoder.kind(b, at) == EventDecoder.KIND_RESET_SENT;
        // a connect()ed socket's local port is ephemeral: such RSTs share local port 0
        boolean active = (EventDecoder.flags(b, at) & Event.F_ACTIVE) != 0;
        int family = EventDecoder.family(b, at), port = active ? 0 : EventDecoder.localPort(b, at), state = EventDecoder.oldState(b, at);
        long high = EventDecoder.remoteAddrHigh(b, at), low = EventDecoder.remoteAddrLow(b, at);
        if (netns != lastNetns || lastKey == null || !lastKey.is(family, high, low, port, state, sent)) {
            Key k = new Key(family, high, low, port, state, sent);
            Map<Key, long[]> m = byNetns.computeIfAbsent(netns, n -> new HashMap<>());
            long[] n = m.get(k);
            if (n == null) {
                if (m.size() >= MAX_KEYS_PER_NETNS) k = new Key(0, 0, 0, 0, -1, sent);
                n = m.computeIfAbsent(k, x -> new long[1]);
            }
            lastNetns = netns;
            lastKey = k;
            lastCount = n;
        }
        lastCount[0] += EventDecoder.sampleRatio(b, at);
    }

    /** Forgets a namespace that is gone. */
    void evict(long netns) {
        byNetns.remove(netns);
        if (lastNetns == netns) {
            lastNetns = -1;
            lastKey = null;
        }
    }

    /**
     * Decay instead of filling up for good: a namespace whose table is full keeps its
     * busiest half and folds the rest into its "other" rows (sent and received), so its
     * sums stay exact and new peers get a row again.
     */
    void decay() {
        for (Map<Key, long[]> m : byNetns.values()) {
            if (m.size() < MAX_KEYS_PER_NETNS) continue;
            List<Map.Entry<Key, long[]>> entries = new ArrayList<>(m.entrySet());
            entries.removeIf(e -> e.getKey().family() == 0);
            entries.sort(Comparator.comparingLong((Map.Entry<Key, long[]> e) -> e.getValue()[0]));
            for (Map.Entry<Key, long[]> e : entries.subList(0, entries.size() / 2)) {
                Key k = e.getKey();
                m.remove(k);
                m.computeIfAbsent(new Key(0, 0, 0, 0, -1, k.sent()), x -> new long[1])[0] += e.getValue()[0];
            }
        }
        lastNetns = -1; // the cached row may have been folded
        lastKey = null;
    }

    /** Namespaces with RST rows, and rows in all (tests). */
    int namespaces() { return byNetns.size(); }

    int rows() { return byNetns.values().stream().mapToInt(Map::size).sum(); }

    /** RSTs counted in a namespace, its rows summed (tests). */
    long total(long netns) {
        return byNetns.getOrDefault(netns, Map.of()).values().stream().mapToLong(n -> n[0]).sum();
    }

    List<Snapshot.ResetPeer> top(long netns) {
        List<Map.Entry<Key, long[]>> entries = new ArrayList<>(byNetns.getOrDefault(netns, Map.of()).entrySet());
        entries.sort(Comparator.comparingLong((Map.Entry<Key, long[]> e) -> e.getValue()[0]).reversed());
        List<Snapshot.ResetPeer> out = new ArrayList<>();
        for (Map.Entry<Key, long[]> e : entries.subList(0, Math.min(TOP, entries.size()))) {
            Key k = e.getKey();
            String peer = k.family() == 0 ? "other" : EventDecoder.formatAddress(k.family(), k.addrHigh(), k.addrLow());
            TcpState st = TcpState.ofKernel(k.state());
            String state = k.family() == 0 ? "" : st == null ? "UNKNOWN" : st.name();
            out.add(new Snapshot.ResetPeer(peer, k.localPort(), state, k.sent() ? "sent" : "received", e.getValue()[0]));
        }
        return List.copyOf(out);
    }
}
