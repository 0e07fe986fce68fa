package io.tcpulse.agent.aggregate;

import java.util.List;

/** CLOSE_WAIT sockets of one namespace by owner (GET /api/v1/closewait). */
public record CloseWaitReport(long total, List<ByOwner> byOwner, List<Lingering> lingering, long orphans) {

    public CloseWaitReport(long total, List<ByOwner> byOwner) {
        this(total, byOwner, List.of(), 0);
    }

    /** FIN_WAIT2 / LAST_ACK sockets towards one peer older than tcp_fin_timeout. */
    public record Lingering(String peer, String state, long count, double oldestAgeSeconds) {}

    public record ByOwner(int pid, String comm, String unit, long count, double oldestAgeSeconds,
                          double growthPerMinute, boolean leaking, List<Sock> sockets) {}

    /** One CLOSE_WAIT socket, listed on demand. */
    public record Sock(String peer, int localPort, double ageSeconds) {}

    public static CloseWaitReport empty() {
        return new CloseWaitReport(0, List.of(), List.of(), 0);
    }
}
