package io.tcpulse.agent.model;

/**
 * Collection failing right now: the step failing the longest, since when, why, and when
 * the agent gives up and exits for its supervisor (systemd) to restart it.
 *
 * @param exitAtMillis 0 when the agent never exits for an outage (probe.maxOutage 0s)
 */
public record ProbeOutage(String step, String errno, long sinceMillis, String message, long exitAtMillis) {

    /** "walk failing since 2026-01-01T10:00:00Z (EMFILE): tcpulse__snapshot(...) failed: ..." */
    public String describe() {
        return "collection failing since " + java.time.Instant.ofEpochMilli(sinceMillis) + ": step " + step
                + " (" + errno + "): " + message;
    }
}
