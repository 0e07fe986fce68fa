package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Decodes the records of native/tcpulse.h. Offsets are named after the C fields;
 * a record that is short, or carries an unknown kind or state, is reported in
 * the result instead of throwing.
 */
public final class EventDecoder {
    private EventDecoder() {}

    /* struct tcpulse_event */
    public static final int EVENT_SIZE = 152;
    public static final int EV_TS_NS = 0, EV_SOCK_ID = 8, EV_PREV_STATE_NS = 16, EV_AGE_NS = 24,
            EV_CGROUP_ID = 32, EV_NETNS = 40, EV_PID = 44, EV_SAMPLE_RATIO = 48, EV_AUX = 52,
            EV_FAMILY = 56, EV_SPORT = 58, EV_DPORT = 60, EV_KIND = 62, EV_OLDSTATE = 63,
            EV_NEWSTATE = 64, EV_FLAGS = 65, EV_SADDR = 72, EV_DADDR = 88, EV_COMM = 104,
            EV_BYTES_SENT = 120, EV_BYTES_RECEIVED = 128, EV_RETRANSMITS = 136, EV_SRTT_US = 140,
            EV_SEGS_OUT = 144, EV_NETNS_COOKIE_LO = 148;

    /* struct tcpulse_sock */
    public static final int SOCK_SIZE = 160;
    public static final int SK_SOCK_ID = 0, SK_INO = 8, SK_CGROUP_ID = 16, SK_STATE_NS = 24,
            SK_BORN_NS = 32, SK_NETNS = 40, SK_PID = 44, SK_ACK_BACKLOG = 48,
            SK_MAX_ACK_BACKLOG = 52, SK_SYN_QLEN = 56, SK_DROPS = 60, SK_UID = 64,
            SK_TIMER_MS = 68, SK_FAMILY = 72, SK_SPORT = 74, SK_DPORT = 76, SK_STATE = 78,
            SK_FLAGS = 79, SK_SADDR = 80, SK_DADDR = 96, SK_COMM = 112,
            SK_BYTES_SENT = 128, SK_BYTES_RECEIVED = 136, SK_RETRANSMITS = 144, SK_SRTT_US = 148,
            SK_SEGS_OUT = 152;

    /* struct tcpulse_transition and struct tcpulse_port_count */
    public static final int TRANSITION_SIZE = 24;
    public static final int TR_NETNS_COOKIE = 0, TR_NETNS = 8, TR_FROM = 12, TR_TO = 13, TR_DERIVED = 14, TR_COUNT = 16;
    public static final int PORT_COUNT_SIZE = 24;
    public static final int PC_NETNS_COOKIE = 0, PC_NETNS = 8, PC_PORT = 12, PC_WHAT = 14, PC_COUNT = 16;

    /* struct tcpulse_prog_stat */
    public static final int PROG_STAT_SIZE = 64;
    public static final int PS_NAME = 0, PS_RUNS = 32, PS_RUN_NS = 40, PS_RECURSION_MISSES = 48, PS_FEATURE = 56;
    public static final int ABI_VERSION = 8;

    static final int AF_INET = 2, AF_INET6 = 10;
    public static final int SK_TIMEWAIT = 0x01, SK_REQUEST = 0x02;

    /** An event, or why the record could not be one (event may still be set when only partly understood). */
    public record Result(Event event, String problem) {}

    public static final int KIND_STATE = 1, KIND_RESET_SENT = 2, KIND_RESET_RECV = 3, KIND_SYNACK_RETRANS = 4,
            KIND_LISTEN_OVERFLOW = 5;

    /** Field readers for the hot path: no allocation. */
    public static int kind(ByteBuffer b, int at) { return b.get(at + EV_KIND) & 0xff; }
    public static int oldState(ByteBuffer b, int at) { return b.get(at + EV_OLDSTATE) & 0xff; }
    public static int newState(ByteBuffer b, int at) { return b.get(at + EV_NEWSTATE) & 0xff; }
    public static int flags(ByteBuffer b, int at) { return b.get(at + EV_FLAGS) & 0xff; }
    public static long netns(ByteBuffer b, int at) { return Integer.toUnsignedLong(b.getInt(at + EV_NETNS)); }
    public static long prevStateNs(ByteBuffer b, int at) { return b.getLong(at + EV_PREV_STATE_NS); }
    public static long ageNs(ByteBuffer b, int at) { return b.getLong(at + EV_AGE_NS); }
    public static long aux(ByteBuffer b, int at) { return Integer.toUnsignedLong(b.getInt(at + EV_AUX)); }
    public static int localPort(ByteBuffer b, int at) { return b.getShort(at + EV_SPORT) & 0xffff; }
    public static int remotePort(ByteBuffer b, int at) { return b.getShort(at + EV_DPORT) & 0xffff; }
    public static int pid(ByteBuffer b, int at) { return b.getInt(at + EV_PID); }
    public static long cgroupId(ByteBuffer b, int at) { return b.getLong(at + EV_CGROUP_ID); }
    public static String comm(ByteBuffer b, int at) { return cString(b, at + EV_COMM, 16); }
    /* ->CLOSE: what the socket carried (0 on other events) */
    public static long bytesSent(ByteBuffer b, int at) { return b.getLong(at + EV_BYTES_SENT); }
    public static long bytesReceived(ByteBuffer b, int at) { return b.getLong(at + EV_BYTES_RECEIVED); }
    public static long retransmits(ByteBuffer b, int at) { return Integer.toUnsignedLong(b.getInt(at + EV_RETRANSMITS)); }
    public static long srttUs(ByteBuffer b, int at) { return Integer.toUnsignedLong(b.getInt(at + EV_SRTT_US)); }
    public static long segmentsSent(ByteBuffer b, int at) { return Integer.toUnsignedLong(b.getInt(at + EV_SEGS_OUT)); }
    /** The low 32 bits of the namespace's cookie (0: unknown): which namespace of those that had the inode. */
    public static int netnsCookieLo(ByteBuffer b, int at) { return b.getInt(at + EV_NETNS_COOKIE_LO); }

    public static int family(ByteBuffer b, int at) { return b.getShort(at + EV_FAMILY) & 0xffff; }

    /** The peer's raw address as two longs: a key that needs no formatting (see formatAddress). */
    public static long remoteAddrHigh(ByteBuffer b, int at) { return b.getLong(at + EV_DADDR); }
    public static long remoteAddrLow(ByteBuffer b, int at) { return b.getLong(at + EV_DADDR + 8); }

    /** An address from family() and the two halves above, as people read it (model.Addresses). */
    public static String formatAddress(int family, long high, long low) {
        ByteBuffer raw = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(high).putLong(low);
        return io.tcpulse.agent.model.Addresses.text(address(raw, 0, family));
    }

    /** The peer's address and port as "ip:port". */
    public static String remoteAddress(ByteBuffer b, int at) {
        return io.tcpulse.agent.model.Addresses.endpoint(address(b, at + EV_DADDR, family(b, at)), b.getShort(at + EV_DPORT) & 0xffff);
    }

    public static int sampleRatio(ByteBuffer b, int at) { return Math.max(1, b.getInt(at + EV_SAMPLE_RATIO)); }

    /**
     * Decodes the event at {@code at}; {@code length} is how many bytes the record has.
     * monoToWallNs maps CLOCK_MONOTONIC to wall time (wall = mono + offset).
     */
    public static Result decode(ByteBuffer buf, int at, int length, long monoToWallNs) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (length < EVENT_SIZE || at < 0 || at + EVENT_SIZE > b.limit()) {
            return new Result(null, "short record: " + length + " bytes, expected " + EVENT_SIZE);
        }
        String problem = null;
        int kindRaw = kind(b, at);
        Event.Kind kind = switch (kindRaw) {
            case KIND_STATE -> Event.Kind.STATE;
            case KIND_RESET_SENT -> Event.Kind.RESET_SENT;
            case KIND_RESET_RECV -> Event.Kind.RESET_RECV;
            case KIND_SYNACK_RETRANS -> Event.Kind.SYNACK_RETRANS;
            case KIND_LISTEN_OVERFLOW -> Event.Kind.LISTEN_OVERFLOW;
            default -> Event.Kind.UNKNOWN;
        };
        if (kind == Event.Kind.UNKNOWN) problem = "unknown event kind " + kindRaw;
        int fromRaw = oldState(b, at), toRaw = newState(b, at);
        TcpState from = TcpState.ofKernel(fromRaw), to = TcpState.ofKernel(toRaw);
        if (kind == Event.Kind.STATE && (from == null || to == null)) {
            problem = "unknown TCP state number " + (from == null ? fromRaw : toRaw);
        }
        int familyRaw = family(b, at);
        int family = familyRaw == AF_INET6 ? 6 : 4;
        if (familyRaw != AF_INET && familyRaw != AF_INET6 && problem == null) {
            problem = "unknown address family " + familyRaw;
        }
        long ts = b.getLong(at + EV_TS_NS);
        Event e = new Event(
                ts, Math.floorDiv(ts + monoToWallNs, 1_000_000L), kind, netns(b, at), family,
                address(b, at + EV_SADDR, familyRaw), b.getShort(at + EV_SPORT) & 0xffff,
                address(b, at + EV_DADDR, familyRaw), b.getShort(at + EV_DPORT) & 0xffff,
                from, to, fromRaw, toRaw,
                prevStateNs(b, at), ageNs(b, at), b.getLong(at + EV_SOCK_ID), b.getLong(at + EV_CGROUP_ID),
                b.getInt(at + EV_PID), cString(b, at + EV_COMM, 16), sampleRatio(b, at), flags(b, at), aux(b, at));
        return new Result(e, problem);
    }

    /** Decodes one socket of the walk; null state means an unknown number (kept, counted nowhere). */
    public static SocketRecord decodeSock(ByteBuffer buf, int at) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int familyRaw = b.getShort(at + SK_FAMILY) & 0xffff;
        int flags = b.get(at + SK_FLAGS) & 0xff;
        return new SocketRecord(
                Integer.toUnsignedLong(b.getInt(at + SK_NETNS)),
                TcpState.ofKernel(b.get(at + SK_STATE) & 0xff),
                address(b, at + SK_SADDR, familyRaw), b.getShort(at + SK_SPORT) & 0xffff,
                address(b, at + SK_DADDR, familyRaw), b.getShort(at + SK_DPORT) & 0xffff,
                b.getLong(at + SK_SOCK_ID), b.getLong(at + SK_INO), b.getLong(at + SK_CGROUP_ID),
                b.getInt(at + SK_PID), cString(b, at + SK_COMM, 16), b.getInt(at + SK_UID),
                b.getInt(at + SK_ACK_BACKLOG), b.getInt(at + SK_MAX_ACK_BACKLOG),
                b.getInt(at + SK_SYN_QLEN), Integer.toUnsignedLong(b.getInt(at + SK_DROPS)),
                b.getLong(at + SK_STATE_NS), b.getLong(at + SK_BORN_NS), b.getInt(at + SK_TIMER_MS),
                (flags & SK_TIMEWAIT) != 0, (flags & SK_REQUEST) != 0,
                new SocketRecord.Carried(b.getLong(at + SK_BYTES_SENT), b.getLong(at + SK_BYTES_RECEIVED),
                        Integer.toUnsignedLong(b.getInt(at + SK_RETRANSMITS)), Integer.toUnsignedLong(b.getInt(at + SK_SRTT_US)),
                        Integer.toUnsignedLong(b.getInt(at + SK_SEGS_OUT))));
    }

    static InetAddress address(ByteBuffer b, int at, int family) {
        byte[] raw = new byte[family == AF_INET6 ? 16 : 4];
        b.get(at, raw);
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException impossible) { // only thrown for bad lengths
            throw new IllegalStateException(impossible);
        }
    }

    /** A NUL-padded C string; bytes that are not UTF-8 become U+FFFD. */
    static String cString(ByteBuffer b, int at, int max) {
        int n = 0;
        while (n < max && b.get(at + n) != 0) n++;
        byte[] raw = new byte[n];
        b.get(at, raw);
        return new String(raw, StandardCharsets.UTF_8);
    }
}
