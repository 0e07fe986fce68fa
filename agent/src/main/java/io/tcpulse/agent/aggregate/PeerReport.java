package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.TcpState;

import java.util.List;
import java.util.Map;

/**
 * Connections this host opened towards one destination of one namespace (GET /api/v1/peers):
 * sockets by state as the last walk found them (outbound: a local port of the ephemeral range
 * that no listener holds), and from the state events of connect()ed sockets the connects,
 * the handshakes completed and each failed connect by reason; what they carried (closed
 * sockets at their end, live ones at the last walk).
 */
public record PeerReport(String remote, Map<TcpState, Long> states, long connects, long established,
                         Map<String, Long> failed, List<Owner> owners, Carried carried) {

    /** A process that connected there. */
    public record Owner(int pid, String comm, String unit) {}

    public long failedTotal() {
        return failed.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Sockets now plus connects and failures: what "most active" sorts by. */
    public long activity() {
        return states.values().stream().mapToLong(Long::longValue).sum() + connects + failedTotal();
    }
}
