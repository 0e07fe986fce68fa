package io.tcpulse.agent.aggregate;

import java.util.List;

/** CLOSE_WAIT sockets of one namespace by owner (GET /api/v1/closewait). */
public record CloseWaitReport(long total, List<ByOwner> byOwner, List<Lingering> lingering, long orphans) {

    public CloseWaitReport(long total, List<ByOwner> byOwner) {
        this(total, byOwner, List.of(), 0);
    }

    /** FIN_WAIT2 / LAST_ACK sockets towards one peer older than tcp_fin_timeout. */
    public record Lingering(String peer, String state, long count, double oldestAgeSeconds) {}

    /**
     * holders: every process holding these sockets when there are several (null: the one
     * named); empty: no process holds them (not yet accepted, orphaned).
     */
    public record ByOwner(int pid, String comm, String unit, long count, double oldestAgeSeconds,
                          double growthPerMinute, boolean leaking, List<Sock> sockets,
                          List<OwnerInfo.HolderInfo> holders) {
        public ByOwner(int pid, String comm, String unit, long count, double oldestAgeSeconds,
                       double growthPerMinute, boolean leaking, List<Sock> sockets) {
            this(pid, comm, unit, count, oldestAgeSeconds, growthPerMinute, leaking, sockets, null);
        }
    }

    /** One CLOSE_WAIT socket, listed on demand. */
    public record Sock(String peer, int localPort, double ageSeconds) {}

    public static CloseWaitReport empty() {
        return new CloseWaitReport(0, List.of(), List.of(), 0);
    }
}
