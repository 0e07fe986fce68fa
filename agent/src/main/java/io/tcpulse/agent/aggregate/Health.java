package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.ProbeFeature;

import java.util.List;

/**
 * The agent's view of itself.
 * mode: "bpf" (probe attached) or "procfs" (degraded: states from /proc/net/tcp{,6}).
 */
public record Health(
        boolean probeAvailable,
        String cause,            // why the probe is not available; null when it is
        String mode,
        long seen,               // events the kernel programs saw
        long consumed,           // events the agent decoded
        long lost,               // ring full
        long sampledOut,
        long mapFull,
        long decodeErrors,       // short records, unknown kinds/states
        int samplingRatio,       // current ratio (1 = every event)
        long lastWalkMillis,     // wall time of the last reconciliation walk
        long lastWalkMicros,     // its duration
        long walkedSockets,
        long rememberedSockets,  // sockets the kernel side keeps an entry for (owner, times)
        long startedMillis,
        List<ProbeFeature> features) { // empty without a probe

    public String status() {
        return probeAvailable ? "ok" : "degraded";
    }
}
