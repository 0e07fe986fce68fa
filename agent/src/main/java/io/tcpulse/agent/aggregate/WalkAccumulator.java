package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.tcpulse.agent.probe.EventDecoder.*;

/**
 * One reconciliation walk, streamed: every socket is counted, but only the few that
 * views list one by one (listeners, CLOSE_WAIT, lingering FIN_WAIT2/LAST_ACK) become
 * objects. TIME_WAIT and outbound connections are folded into per-destination counts
 * as they pass, so a million timewait sockets cost a map entry per destination.
 */
public final class WalkAccumulator {
    /** An outbound destination as seen from one local address of one namespace. */
    public record Dest(long netns, String local, String remote) {}

    /** TIME_WAIT sockets and live connections holding a local port towards one destination. */
    public static final class DestCount {
        public long timeWait;   // substate TIME_WAIT
        public long otherTw;    // timewait socks still in substate FIN_WAIT2
        public long live;       // full sockets
        /* every socket by its state as ss shows it (a timewait sock by its substate), by kernel number */
        public final long[] states = new long[13];
        /* what the live sockets carried so far, and their smoothed RTTs (null: none sampled) */
        public long retransmits, segmentsSent, bytesSent, bytesReceived;
        public Histogram rtt;

        /** A live full socket of the walk (a raw tcpulse_sock): counted by its state, what it carried added. */
        void live(int state, ByteBuffer b, int at) {
            live(state, Integer.toUnsignedLong(b.getInt(at + SK_RETRANSMITS)), Integer.toUnsignedLong(b.getInt(at + SK_SEGS_OUT)),
                    b.getLong(at + SK_BYTES_SENT), b.getLong(at + SK_BYTES_RECEIVED), Integer.toUnsignedLong(b.getInt(at + SK_SRTT_US)));
        }

        /** The same for a decoded socket. */
        void live(int state, SocketRecord.Carried k) {
            live(state, k.retransmits(), k.segmentsSent(), k.bytesSent(), k.bytesReceived(), k.srttUs());
        }

        private void live(int state, long retrans, long segments, long sent, long received, long srttUs) {
            live++;
            states[state]++;
            retransmits += retrans;
            segmentsSent += segments;
            bytesSent += sent;
            bytesReceived += received;
            if (srttUs > 0) {
                if (rtt == null) rtt = new Histogram();
                rtt.record(srttUs * 1000, 1);
            }
        }
    }

    final Map<Long, long[]> stateCounts = new HashMap<>();
    final List<SocketRecord> listeners = new ArrayList<>();
    final List<SocketRecord> closeWait = new ArrayList<>();
    final List<SocketRecord> lingering = new ArrayList<>();
    final Map<Dest, DestCount> outbound = new HashMap<>();
    /* per netns and listening port: the sockets it accepted that are still there */
    final Map<Long, Map<Integer, DestCount>> children = new HashMap<>();
    final Map<Long, Map<Integer, Long>> timeWaitByLocalPort = new HashMap<>();
    final Map<Long, Long> timeWaitTotal = new HashMap<>();
    final Set<Long> walkedNetns = new HashSet<>();
    private final Map<Long, Set<Integer>> listeningPorts = new HashMap<>();
    private final Map<Long, int[]> ephemeralRange;
    long sockets;

    /** @param ephemeralRange per netns [low, high] of ip_local_port_range, to tell outbound sockets */
    public WalkAccumulator(Map<Long, int[]> ephemeralRange) {
        this.ephemeralRange = ephemeralRange;
    }

    /** Namespaces this walk covered. */
    public Set<Long> walkedNetns() {
        return java.util.Collections.unmodifiableSet(walkedNetns);
    }

    /** The listeners walked, in walk order. */
    public List<SocketRecord> listeners() {
        return java.util.Collections.unmodifiableList(listeners);
    }

    public void walked(long netns) {
        walkedNetns.add(netns);
        stateCounts.computeIfAbsent(netns, n -> new long[13]);
    }

    /** A raw tcpulse_sock record (the walk lists listeners before other sockets). */
    public void acceptRaw(ByteBuffer b, int at) {
        int stateNum = b.get(at + SK_STATE) & 0xff;
        TcpState state = TcpState.ofKernel(stateNum);
        if (state == null) return;
        long netns = Integer.toUnsignedLong(b.getInt(at + SK_NETNS));
        boolean timewait = (b.get(at + SK_FLAGS) & SK_TIMEWAIT) != 0;
        count(netns, state);
        if (state == TcpState.LISTEN || (!timewait && (state == TcpState.CLOSE_WAIT
                || state == TcpState.FIN_WAIT2 || state == TcpState.LAST_ACK))) {
            SocketRecord r = EventDecoder.decodeSock(b, at);
            accept(r, false);
            if (state != TcpState.LISTEN && isOutbound(netns, r.localPort())) {
                DestCount c = outbound.computeIfAbsent(new Dest(netns, io.tcpulse.agent.model.Addresses.text(r.local()),
                        io.tcpulse.agent.model.Addresses.endpoint(r.remote(), r.remotePort())), k -> new DestCount());
                c.live(state.kernel, r.carried());
            } else if (state != TcpState.LISTEN) {
                DestCount c = childOf(netns, r.localPort());
                if (c != null) c.live(state.kernel, r.carried());
            }
            return;
        }
        if (state == TcpState.NEW_SYN_RECV) return;
        int family = b.getShort(at + SK_FAMILY) & 0xffff;
        int localPort = b.getShort(at + SK_SPORT) & 0xffff;
        if (timewait && state == TcpState.TIME_WAIT) {
            timeWaitTotal.merge(netns, 1L, Long::sum);
            timeWaitByLocalPort.computeIfAbsent(netns, n -> new HashMap<>()).merge(localPort, 1L, Long::sum);
        }
        if (!isOutbound(netns, localPort)) {
            DestCount c = childOf(netns, localPort);
            if (c == null) return;
            if (timewait) c.states[state.kernel]++;
            else c.live(state.kernel, b, at);
            return;
        }
        Dest d = new Dest(netns, addr(b, at + SK_SADDR, family),
                io.tcpulse.agent.model.Addresses.endpoint(addr(b, at + SK_DADDR, family), b.getShort(at + SK_DPORT) & 0xffff));
        DestCount c = outbound.computeIfAbsent(d, k -> new DestCount());
        if (!timewait) {
            c.live(state.kernel, b, at);
            return;
        }
        c.states[state.kernel]++;
        if (state == TcpState.TIME_WAIT) c.timeWait++;
        else c.otherTw++;
    }

    /** The ports the walk found listening in netns. */
    public Set<Integer> listeningPorts(long netns) {
        return listeningPorts.getOrDefault(netns, Set.of());
    }

    /** The live children of the listener on port, or null when no listener of the namespace has it. */
    private DestCount childOf(long netns, int port) {
        Set<Integer> ports = listeningPorts.get(netns);
        if (ports == null || !ports.contains(port)) return null;
        return children.computeIfAbsent(netns, n -> new HashMap<>()).computeIfAbsent(port, p -> new DestCount());
    }

    /** A decoded record (from /proc in degraded mode, or from acceptRaw). */
    public void accept(SocketRecord r, boolean count) {
        if (r.state() == null) return;
        if (count) count(r.netns(), r.state());
        switch (r.state()) {
            case LISTEN -> {
                listeners.add(r);
                listeningPorts.computeIfAbsent(r.netns(), n -> new HashSet<>()).add(r.localPort());
            }
            case CLOSE_WAIT -> closeWait.add(r);
            case FIN_WAIT2, LAST_ACK -> {
                if (!r.timewait()) lingering.add(r);
            }
            default -> { }
        }
        if (count && r.timewait() && r.state() == TcpState.TIME_WAIT) {
            timeWaitTotal.merge(r.netns(), 1L, Long::sum);
            timeWaitByLocalPort.computeIfAbsent(r.netns(), n -> new HashMap<>()).merge(r.localPort(), 1L, Long::sum);
        }
    }

    private void count(long netns, TcpState state) {
        sockets++;
        stateCounts.computeIfAbsent(netns, n -> new long[13])[state.kernel]++;
    }

    /** Outbound: the local port is no listener's and lies in the ephemeral range. */
    private boolean isOutbound(long netns, int localPort) {
        if (listeningPorts.getOrDefault(netns, Set.of()).contains(localPort)) return false;
        int[] range = ephemeralRange.getOrDefault(netns, new int[] {32768, 60999});
        return localPort >= range[0] && localPort <= range[1];
    }

    private static String addr(ByteBuffer b, int at, int family) {
        byte[] raw = new byte[family == 10 ? 16 : 4];
        b.get(at, raw);
        return io.tcpulse.agent.model.Addresses.text(raw);
    }
}
