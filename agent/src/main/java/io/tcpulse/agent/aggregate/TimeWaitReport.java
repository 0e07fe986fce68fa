package io.tcpulse.agent.aggregate;

import java.util.List;

/** TIME_WAIT ledger of one namespace (GET /api/v1/timewait). */
public record TimeWaitReport(
        long total,
        double entriesPerSecond,
        List<Remote> byRemote,           // largest first
        List<LocalPort> byLocalPort,     // largest first
        long maxBuckets,                 // net.ipv4.tcp_max_tw_buckets
        long overflows) {                // TcpExt TCPTimeWaitOverflow

    /** TIME_WAIT towards one destination, and the local ports it holds. */
    public record Remote(String remote, String local, long count, long portsInUse, long portRange,
                         double exhaustion, Double secondsToExhaustion) {}

    public record LocalPort(int port, long count) {}

    public static TimeWaitReport empty() {
        return new TimeWaitReport(0, 0, List.of(), List.of(), 0, 0);
    }
}
