package io.tcpulse.agent.host;

import java.util.Map;

/**
 * What one network namespace says of itself: TcpExt counters (/proc/net/netstat),
 * sockstat, and the sysctls that bound queues and ports.
 */
public record NetnsInfo(
        Map<String, Long> tcpExt,
        long orphans,               // /proc/net/sockstat TCP orphan
        int syncookies,             // net.ipv4.tcp_syncookies
        int maxSynBacklog,          // net.ipv4.tcp_max_syn_backlog
        int somaxconn,              // net.core.somaxconn
        int portLow, int portHigh,  // net.ipv4.ip_local_port_range
        int reservedPorts,          // ports of ip_local_reserved_ports inside that range
        int twReuse,                // net.ipv4.tcp_tw_reuse
        long maxTwBuckets,          // net.ipv4.tcp_max_tw_buckets
        int finTimeoutSeconds,      // net.ipv4.tcp_fin_timeout
        long tcpSegments,           // Tcp InSegs + OutSegs (/proc/net/snmp): any TCP activity moves it
        long sockets) {             // sockstat TCP inuse + tw: about what a walk lists (-1: unknown)

    /** The same sysctls with fresh counters (sysctls are re-read less often than counters). */
    public NetnsInfo withCounters(NetnsInfo fresh) {
        return new NetnsInfo(fresh.tcpExt, fresh.orphans, syncookies, maxSynBacklog, somaxconn, portLow, portHigh,
                reservedPorts, twReuse, maxTwBuckets, finTimeoutSeconds, fresh.tcpSegments, fresh.sockets);
    }

    /** Usable ephemeral ports: the range minus reserved ports. */
    public int ephemeralPorts() {
        return Math.max(0, portHigh - portLow + 1 - reservedPorts);
    }

    public long tcpExt(String name) {
        return tcpExt.getOrDefault(name, 0L);
    }
}
