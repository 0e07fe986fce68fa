package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Event;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.tcpulse.agent.probe.EventDecoder.*;

/**
 * The C↔Java contract of native/tcpulse.h, checked instead of trusted: libtcpulse reports
 * how its compiler laid out every record, enum and flag the agent decodes
 * (tcpulse__layout()), and every figure the agent's decoders rely on must be there, equal.
 */
final class NativeContract {
    private NativeContract() {}

    /** What the agent relies on, by the library's names: struct sizes, "struct.field" offsets, enum values. */
    static Map<String, Long> expected() {
        Map<String, Long> m = new LinkedHashMap<>();
        put(m, "TCPULSE_ABI_VERSION", ABI_VERSION);
        struct(m, "tcpulse_event", EVENT_SIZE, "ts_ns", EV_TS_NS, "sock_id", EV_SOCK_ID, "prev_state_ns", EV_PREV_STATE_NS,
                "age_ns", EV_AGE_NS, "cgroup_id", EV_CGROUP_ID, "netns", EV_NETNS, "pid", EV_PID, "sample_ratio", EV_SAMPLE_RATIO,
                "aux", EV_AUX, "family", EV_FAMILY, "sport", EV_SPORT, "dport", EV_DPORT, "kind", EV_KIND,
                "oldstate", EV_OLDSTATE, "newstate", EV_NEWSTATE, "flags", EV_FLAGS, "saddr", EV_SADDR, "daddr", EV_DADDR,
                "comm", EV_COMM, "bytes_sent", EV_BYTES_SENT, "bytes_received", EV_BYTES_RECEIVED,
                "retransmits", EV_RETRANSMITS, "srtt_us", EV_SRTT_US, "segs_out", EV_SEGS_OUT,
                "netns_cookie_lo", EV_NETNS_COOKIE_LO);
        put(m, "TCPULSE_EV_STATE", KIND_STATE);
        put(m, "TCPULSE_EV_RESET_SENT", KIND_RESET_SENT);
        put(m, "TCPULSE_EV_RESET_RECV", KIND_RESET_RECV);
        put(m, "TCPULSE_EV_SYNACK_RETRANS", KIND_SYNACK_RETRANS);
        put(m, "TCPULSE_EV_LISTEN_OVERFLOW", KIND_LISTEN_OVERFLOW);
        put(m, "TCPULSE_F_OWNER_KNOWN", Event.F_OWNER_KNOWN);
        put(m, "TCPULSE_F_TIMEWAIT", Event.F_TIMEWAIT);
        put(m, "TCPULSE_F_TW_FIN_WAIT2", Event.F_TW_FIN_WAIT2);
        put(m, "TCPULSE_F_BORN_KNOWN", Event.F_BORN_KNOWN);
        put(m, "TCPULSE_F_ACTIVE", Event.F_ACTIVE);
        struct(m, "tcpulse_sock", SOCK_SIZE, "sock_id", SK_SOCK_ID, "ino", SK_INO, "cgroup_id", SK_CGROUP_ID,
                "state_ns", SK_STATE_NS, "born_ns", SK_BORN_NS, "netns", SK_NETNS, "pid", SK_PID, "ack_backlog", SK_ACK_BACKLOG,
                "max_ack_backlog", SK_MAX_ACK_BACKLOG, "syn_qlen", SK_SYN_QLEN, "drops", SK_DROPS, "uid", SK_UID,
                "timer_ms", SK_TIMER_MS, "family", SK_FAMILY, "sport", SK_SPORT, "dport", SK_DPORT, "state", SK_STATE,
                "flags", SK_FLAGS, "saddr", SK_SADDR, "daddr", SK_DADDR, "comm", SK_COMM,
                "bytes_sent", SK_BYTES_SENT, "bytes_received", SK_BYTES_RECEIVED, "retransmits", SK_RETRANSMITS,
                "srtt_us", SK_SRTT_US, "segs_out", SK_SEGS_OUT);
        put(m, "TCPULSE_SK_TIMEWAIT", SK_TIMEWAIT);
        put(m, "TCPULSE_SK_REQUEST", SK_REQUEST);
        struct(m, "tcpulse_holder", HolderDecoder.SIZE, "sock_id", HolderDecoder.SOCK_ID, "ino", HolderDecoder.INO,
                "cgroup_id", HolderDecoder.CGROUP_ID, "netns_cookie", HolderDecoder.NETNS_COOKIE, "tgid", HolderDecoder.TGID,
                "fd", HolderDecoder.FD, "netns", HolderDecoder.NETNS, "family", HolderDecoder.FAMILY, "sport", HolderDecoder.SPORT,
                "dport", HolderDecoder.DPORT, "kind", HolderDecoder.KIND, "state", HolderDecoder.STATE, "comm", HolderDecoder.COMM);
        put(m, "TCPULSE_HOLDER_SOCKET", HolderDecoder.KIND_SOCKET);
        put(m, "TCPULSE_HOLDER_NETNS_TASK", HolderDecoder.KIND_NETNS_TASK);
        put(m, "TCPULSE_HOLDER_NETNS_FILE", HolderDecoder.KIND_NETNS_FILE);
        struct(m, "tcpulse_transition", TRANSITION_SIZE, "netns_cookie", TR_NETNS_COOKIE, "netns", TR_NETNS, "from", TR_FROM,
                "to", TR_TO, "derived", TR_DERIVED, "count", TR_COUNT);
        struct(m, "tcpulse_port_count", PORT_COUNT_SIZE, "netns_cookie", PC_NETNS_COOKIE, "netns", PC_NETNS, "port", PC_PORT,
                "what", PC_WHAT, "count", PC_COUNT);
        put(m, "TCPULSE_PC_OVERFLOW", Probe.PortCount.OVERFLOW);
        put(m, "TCPULSE_PC_SYNACK_RETRANS", Probe.PortCount.SYNACK_RETRANS);
        put(m, "TCPULSE_PC_RESET_SENT", Probe.PortCount.RESET_SENT);
        put(m, "TCPULSE_PC_RESET_RECV", Probe.PortCount.RESET_RECV);
        struct(m, "tcpulse_prog_stat", PROG_STAT_SIZE, "name", PS_NAME, "runs", PS_RUNS, "run_ns", PS_RUN_NS,
                "recursion_misses", PS_RECURSION_MISSES, "feature", PS_FEATURE);
        // the options struct may grow at its end (sz says how much the caller knows): its size is not part of it
        put(m, "tcpulse_opts.sz", Probe.OPTS_SZ);
        put(m, "tcpulse_opts.ring_bytes", Probe.OPTS_RING_BYTES);
        put(m, "tcpulse_opts.max_events_per_sec", Probe.OPTS_MAX_EVENTS_PER_SEC);
        put(m, "tcpulse_opts.wakeup_bytes", Probe.OPTS_WAKEUP_BYTES);
        put(m, "tcpulse_opts.flags", Probe.OPTS_FLAGS);
        put(m, "tcpulse_opts.disabled_features", Probe.OPTS_DISABLED_FEATURES);
        put(m, "TCPULSE_OPT_BENCH", Probe.OPT_BENCH);
        put(m, "TCPULSE_OPT_RUN_STATS", Probe.OPT_RUN_STATS);
        put(m, "TCPULSE_STAT_SEEN", Probe.STAT_SEEN);
        put(m, "TCPULSE_STAT_LOST", Probe.STAT_LOST);
        put(m, "TCPULSE_STAT_SAMPLED_OUT", Probe.STAT_SAMPLED_OUT);
        put(m, "TCPULSE_STAT_MAP_FULL", Probe.STAT_MAP_FULL);
        put(m, "TCPULSE_STAT_REMEMBERED", Probe.STAT_REMEMBERED);
        put(m, "TCPULSE_STAT_TWIN_HANDLED", Probe.STAT_TWIN_HANDLED);
        put(m, "TCPULSE_STAT_MAP_FULL_TRANSITIONS", Probe.STAT_MAP_FULL_FIRST);
        put(m, "TCPULSE_STAT_MAP_FULL_PORT_COUNTERS", Probe.STAT_MAP_FULL_FIRST + 1);
        put(m, "TCPULSE_STAT_MAP_FULL_LISTEN_OWNERS", Probe.STAT_MAP_FULL_FIRST + 2);
        put(m, "TCPULSE_STAT_MAP_FULL_SK_INFOS", Probe.STAT_MAP_FULL_FIRST + 3);
        put(m, "TCPULSE_STAT_WAKEUPS", Probe.STAT_WAKEUPS);
        put(m, "TCPULSE_STAT_WAKEUPS_ASLEEP", Probe.STAT_WAKEUPS_ASLEEP);
        put(m, "TCPULSE_STAT_MAX", Probe.STAT_MAX);
        put(m, "TCPULSE_POLL_WAKE_ON_EVENT", Probe.POLL_WAKE_ON_EVENT);
        return m;
    }

    /** The library's layout text ("name value" lines) parsed. */
    static Map<String, Long> parse(String text) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.strip().split(" ");
            if (f.length == 2) {
                try {
                    m.put(f[0], Long.parseLong(f[1]));
                } catch (NumberFormatException e) {
                    // not a figure: not a line the agent relies on
                }
            }
        }
        return m;
    }

    /** Every difference between what the agent relies on and what the library says, in words; empty when none. */
    static List<String> differences(Map<String, Long> expected, Map<String, Long> library) {
        List<String> out = new ArrayList<>();
        expected.forEach((name, value) -> {
            Long got = library.get(name);
            if (got == null) out.add(name + ": missing from the library (agent " + value + ")");
            else if (!got.equals(value)) out.add(name + ": library " + got + ", agent " + value);
        });
        return out;
    }

    /** The loaded library's layout. */
    static Map<String, Long> ofLibrary() {
        int n = TcpulseNative.tcpulse__layout(null, 0);
        if (n < 0) return Map.of();
        byte[] buf = new byte[n + 1];
        TcpulseNative.tcpulse__layout(buf, buf.length);
        return parse(new String(buf, 0, n, StandardCharsets.US_ASCII));
    }

    private static void struct(Map<String, Long> m, String struct, int size, Object... fieldOffsets) {
        put(m, struct, size);
        for (int i = 0; i < fieldOffsets.length; i += 2) put(m, struct + "." + fieldOffsets[i], (Integer) fieldOffsets[i + 1]);
    }

    private static void put(Map<String, Long> m, String name, long value) {
        m.put(name, value);
    }
}
