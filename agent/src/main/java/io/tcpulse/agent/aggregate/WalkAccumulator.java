package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
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
    private final Map<Long, int[]> ephemeralRange;
    /* the kernel's default ip_local_port_range */
    private static final int[] DEFAULT_EPHEMERAL = {32768, 60999};
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
        if (netns != cur.netns) enter(netns);
        boolean timewait = (b.get(at + SK_FLAGS) & SK_TIMEWAIT) != 0;
        sockets++;
        cur.counts[stateNum]++;
        if (state == TcpState.LISTEN || (!timewait && (state == TcpState.CLOSE_WAIT
                || state == TcpState.FIN_WAIT2 || state == TcpState.LAST_ACK))) {
            SocketRecord r = EventDecoder.decodeSock(b, at);
            accept(r, false);
            if (state != TcpState.LISTEN && isOutbound(r.localPort())) {
                DestCount c = outbound.computeIfAbsent(new Dest(netns, io.tcpulse.agent.model.Addresses.text(r.local()),
                        io.tcpulse.agent.model.Addresses.endpoint(r.remote(), r.remotePort())), k -> new DestCount());
                c.live(state.kernel, r.carried());
            } else if (state != TcpState.LISTEN) {
                DestCount c = childOf(r.localPort());
                if (c != null) c.live(state.kernel, r.carried());
            }
            return;
        }
        if (state == TcpState.NEW_SYN_RECV) return;
        int localPort = b.getShort(at + SK_SPORT) & 0xffff;
        if (timewait && state == TcpState.TIME_WAIT) {
            timeWaitTotal.merge(netns, 1L, Long::sum);
            timeWaitByLocalPort.computeIfAbsent(netns, n -> new HashMap<>()).merge(localPort, 1L, Long::sum);
        }
        if (!isOutbound(localPort)) {
            DestCount c = childOf(localPort);
            if (c == null) return;
            if (timewait) c.states[stateNum]++;
            else c.live(stateNum, b, at);
            return;
        }
        DestCount c = outbound(netns, b, at);
        if (!timewait) {
            c.live(stateNum, b, at);
            return;
        }
        c.states[stateNum]++;
        if (state == TcpState.TIME_WAIT) c.timeWait++;
        else c.otherTw++;
    }

    /*
     * Where the records of the namespace being walked go. A walk lists one namespace after
     * another, 100,000 sockets in a row in a busy one: per socket, an array index and a bit,
     * not map lookups (a reconciliation walk runs every minute or so, mostly before the JIT
     * has compiled this).
     */
    private static final class Current {
        long netns = -1;
        long[] counts;
        BitSet listening;
        int low, high;
        Map<Integer, DestCount> children; // null until the namespace's first child
    }

    private final Current cur = new Current();
    private final Map<Long, BitSet> listeningBits = new HashMap<>();

    private void enter(long netns) {
        cur.netns = netns;
        cur.counts = stateCounts.computeIfAbsent(netns, n -> new long[13]);
        cur.listening = listeningBits.computeIfAbsent(netns, n -> new BitSet());
        int[] range = ephemeralRange.getOrDefault(netns, DEFAULT_EPHEMERAL);
        cur.low = range[0];
        cur.high = range[1];
        cur.children = children.get(netns);
    }

    /*
     * An outbound socket's destination, found by its raw endpoints: the text of the
     * addresses (what Dest holds) is written once per destination, not once per socket.
     */
    private static final class RawDest {
        long netns, s0, s1, d0, d1;
        int portFamily;

        RawDest set(long netns, ByteBuffer b, int at) {
            this.netns = netns;
            s0 = b.getLong(at + SK_SADDR);
            s1 = b.getLong(at + SK_SADDR + 8);
            d0 = b.getLong(at + SK_DADDR);
            d1 = b.getLong(at + SK_DADDR + 8);
            portFamily = (b.getShort(at + SK_DPORT) & 0xffff) | (b.getShort(at + SK_FAMILY) << 16);
            return this;
        }

        RawDest copy() {
            RawDest c = new RawDest();
            c.netns = netns;
            c.s0 = s0;
            c.s1 = s1;
            c.d0 = d0;
            c.d1 = d1;
            c.portFamily = portFamily;
            return c;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RawDest r && r.netns == netns && r.s0 == s0 && r.s1 == s1 && r.d0 == d0
                    && r.d1 == d1 && r.portFamily == portFamily;
        }

        @Override
        public int hashCode() {
            long h = netns * 31 + s0;
            h = h * 31 + s1;
            h = h * 31 + d0;
            h = h * 31 + d1;
            h = h * 31 + portFamily;
            return (int) (h ^ (h >>> 32));
        }
    }

    private final RawDest lookup = new RawDest();
    private final Map<RawDest, DestCount> outboundRaw = new HashMap<>();

    private DestCount outbound(long netns, ByteBuffer b, int at) {
        DestCount c = outboundRaw.get(lookup.set(netns, b, at));
        if (c != null) return c;
        int family = b.getShort(at + SK_FAMILY) & 0xffff;
        Dest d = new Dest(netns, addr(b, at + SK_SADDR, family),
                io.tcpulse.agent.model.Addresses.endpoint(addr(b, at + SK_DADDR, family), b.getShort(at + SK_DPORT) & 0xffff));
        c = outbound.computeIfAbsent(d, k -> new DestCount());
        outboundRaw.put(lookup.copy(), c);
        return c;
    }

    /** The ports the walk found listening in netns. */
    public Set<Integer> listeningPorts(long netns) {
        BitSet ports = listeningBits.get(netns);
        if (ports == null) return Set.of();
        Set<Integer> out = new HashSet<>();
        ports.stream().forEach(out::add);
        return out;
    }

    /** The live children of the listener on port in the namespace being walked, or null when none of its listeners has it. */
    private DestCount childOf(int port) {
        if (!cur.listening.get(port)) return null;
        if (cur.children == null) cur.children = children.computeIfAbsent(cur.netns, n -> new HashMap<>());
        DestCount c = cur.children.get(port);
        if (c == null) cur.children.put(port, c = new DestCount());
        return c;
    }

    /** A decoded record (from /proc in degraded mode, or from acceptRaw). */
    public void accept(SocketRecord r, boolean count) {
        if (r.state() == null) return;
        if (count) count(r.netns(), r.state());
        switch (r.state()) {
            case LISTEN -> {
                listeners.add(r);
                listeningBits.computeIfAbsent(r.netns(), n -> new BitSet()).set(r.localPort());
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

    /** Outbound, in the namespace being walked: the local port is no listener's and lies in the ephemeral range. */
    private boolean isOutbound(int localPort) {
        return !cur.listening.get(localPort) && localPort >= cur.low && localPort <= cur.high;
    }

    private static String addr(ByteBuffer b, int at, int family) {
        byte[] raw = new byte[family == 10 ? 16 : 4];
        b.get(at, raw);
        return io.tcpulse.agent.model.Addresses.text(raw);
    }
}
