package io.tcpulse.agent.model;

/**
 * One cause of failure of one step of the probe loop (drain, walk, owners, counters,
 * publish), as /api/v1/health and tcpulse_probe_errors_total show it.
 *
 * @param errno   the errno's name (EMFILE), else the exception's class (IllegalStateException)
 * @param count   failures of this step with this cause since the agent started
 * @param failing true while it is the step's current failure (the step has not succeeded since)
 */
public record ProbeError(String step, String errno, long count, long lastMillis, String message, boolean failing) {}
