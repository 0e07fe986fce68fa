package io.tcpulse.agent.aggregate;

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
 * sampling ratio; bounded per namespace (the rest folds into peer "other").
 */
final class ResetPeers {
    static final int MAX_KEYS_PER_NETNS = 4096;
    static final int TOP = 50;

    private record Key(String peer, int localPort, String state, String direction) {}

    private final Map<Long, Map<Key, long[]>> byNetns = new HashMap<>();

    void add(ByteBuffer b, int at) {
        long netns = EventDecoder.netns(b, at);
        String direction = EventDecoder.kind(b, at) == EventDecoder.KIND_RESET_SENT ? "sent" : "received";
        TcpState st = TcpState.ofKernel(EventDecoder.oldState(b, at));
        Map<Key, long[]> m = byNetns.computeIfAbsent(netns, n -> new HashMap<>());
        // a connect()ed socket's local port is ephemeral: such RSTs share local port 0
        boolean active = (EventDecoder.flags(b, at) & io.tcpulse.agent.model.Event.F_ACTIVE) != 0;
        Key k = new Key(EventDecoder.remoteHost(b, at), active ? 0 : EventDecoder.localPort(b, at),
                st == null ? "UNKNOWN" : st.name(), direction);
        if (!m.containsKey(k) && m.size() >= MAX_KEYS_PER_NETNS) k = new Key("other", 0, "", direction);
        m.computeIfAbsent(k, x -> new long[1])[0] += EventDecoder.sampleRatio(b, at);
    }

    List<Snapshot.ResetPeer> top(long netns) {
        List<Snapshot.ResetPeer> out = new ArrayList<>();
        byNetns.getOrDefault(netns, Map.of()).forEach((k, n) ->
                out.add(new Snapshot.ResetPeer(k.peer(), k.localPort(), k.state(), k.direction(), n[0])));
        out.sort(Comparator.comparingLong(Snapshot.ResetPeer::count).reversed());
        return List.copyOf(out.subList(0, Math.min(TOP, out.size())));
    }
}
