package io.tcpulse.agent.host;

import java.util.HashMap;
import java.util.Map;

/**
 * Parses what NetnsInfo is made of. Reading is the caller's (a namespace's files are
 * only visible from inside it); every parser tolerates odd input and falls back to
 * the kernel's defaults.
 */
public final class NetnsInfoReader {
    private NetnsInfoReader() {}

    /** A source of a namespace's files: path -> content, or null when unreadable. */
    public interface Files {
        String read(String path);
    }

    /** Only the counters (netstat, sockstat, snmp); sysctls left at their defaults. */
    public static NetnsInfo readCounters(Files f) {
        String sockstat = f.read("/proc/thread-self/net/sockstat");
        return new NetnsInfo(tcpExt(f.read("/proc/thread-self/net/netstat")),
                orphans(sockstat), 1, 128, 4096, 32768, 60999, 0, 2, 262144, 60,
                tcpSegments(f.read("/proc/thread-self/net/snmp")), sockets(sockstat));
    }

    public static NetnsInfo read(Files f) {
        int[] range = ints(f.read("/proc/sys/net/ipv4/ip_local_port_range"), 32768, 60999);
        String sockstat = f.read("/proc/thread-self/net/sockstat");
        return new NetnsInfo(
                tcpExt(f.read("/proc/thread-self/net/netstat")),
                orphans(sockstat),
                ints(f.read("/proc/sys/net/ipv4/tcp_syncookies"), 1)[0],
                ints(f.read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), 128)[0],
                ints(f.read("/proc/sys/net/core/somaxconn"), 4096)[0],
                range[0], range[1],
                reservedInRange(f.read("/proc/sys/net/ipv4/ip_local_reserved_ports"), range[0], range[1]),
                ints(f.read("/proc/sys/net/ipv4/tcp_tw_reuse"), 2)[0],
                longOr(f.read("/proc/sys/net/ipv4/tcp_max_tw_buckets"), 262144),
                ints(f.read("/proc/sys/net/ipv4/tcp_fin_timeout"), 60)[0],
                tcpSegments(f.read("/proc/thread-self/net/snmp")), sockets(sockstat));
    }

    /** Tcp InSegs + OutSegs from /proc/net/snmp, -1 when unreadable. */
    public static long tcpSegments(String snmp) {
        Map<String, Long> tcp = counters(snmp, "Tcp:");
        if (!tcp.containsKey("InSegs") && !tcp.containsKey("OutSegs")) return -1;
        return tcp.getOrDefault("InSegs", 0L) + tcp.getOrDefault("OutSegs", 0L);
    }

    /** TcpExt name/value pairs from /proc/net/netstat (a header line, then a value line). */
    public static Map<String, Long> tcpExt(String netstat) {
        return counters(netstat, "TcpExt:");
    }

    /**
     * One section of /proc/net/netstat or /proc/net/snmp ("Tcp:", "TcpExt:"...): a header
     * line of names, then a line of values. Values that are not numbers are left out.
     */
    public static Map<String, Long> counters(String text, String prefix) {
        Map<String, Long> out = new HashMap<>();
        if (text == null) return out;
        String[] lines = text.split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (!lines[i].startsWith(prefix) || !lines[i + 1].startsWith(prefix)) continue;
            String[] k = lines[i].trim().split("\\s+"), v = lines[i + 1].trim().split("\\s+");
            for (int j = 1; j < k.length && j < v.length; j++) {
                try {
                    out.put(k[j], Long.parseLong(v[j]));
                } catch (NumberFormatException ignored) {
                    // a counter we cannot read is left out, not guessed
                }
            }
            break;
        }
        return out;
    }

    /** "TCP: inuse 5 orphan 2 tw 0 ..." -> 2 */
    static long orphans(String sockstat) {
        return Math.max(0, sockstatTcp(sockstat, "orphan"));
    }

    /** TCP sockets in use plus timewait sockets (sockstat "inuse" + "tw"), -1 when unreadable. */
    public static long sockets(String sockstat) {
        long inuse = sockstatTcp(sockstat, "inuse"), tw = sockstatTcp(sockstat, "tw");
        return inuse < 0 ? -1 : inuse + Math.max(0, tw);
    }

    /** Timewait sockets of the namespace (sockstat "tw"), -1 when unreadable. */
    public static long timewait(String sockstat) {
        return sockstatTcp(sockstat, "tw");
    }

    /** A figure of sockstat's "TCP:" line ("TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1"), -1 when absent. */
    private static long sockstatTcp(String sockstat, String name) {
        if (sockstat == null) return -1;
        for (String line : sockstat.split("\n")) {
            if (!line.startsWith("TCP:")) continue;
            String[] f = line.trim().split("\\s+");
            for (int i = 1; i + 1 < f.length; i++) {
                if (f[i].equals(name)) return parseLong(f[i + 1], -1);
            }
        }
        return -1;
    }

    /** Reserved ports ("8080,9000-9010") that fall inside [low, high]. */
    static int reservedInRange(String spec, int low, int high) {
        if (spec == null || spec.isBlank()) return 0;
        int n = 0;
        for (String part : spec.trim().split(",")) {
            String[] ab = part.trim().split("-");
            long a = parseLong(ab[0], -1), b = ab.length > 1 ? parseLong(ab[1], -1) : a;
            if (a < 0 || b < a) continue;
            long lo = Math.max(a, low), hi = Math.min(b, high);
            if (hi >= lo) n += (int) (hi - lo + 1);
        }
        return n;
    }

    static int[] ints(String s, int... defaults) {
        int[] out = defaults.clone();
        if (s == null) return out;
        String[] f = s.trim().split("\\s+");
        for (int i = 0; i < out.length && i < f.length; i++) out[i] = (int) parseLong(f[i], out[i]);
        return out;
    }

    static long longOr(String s, long dflt) {
        return s == null ? dflt : parseLong(s.trim(), dflt);
    }

    private static long parseLong(String s, long dflt) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }
}
