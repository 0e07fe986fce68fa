package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.config.AlertsConfig;

import java.time.Duration;
import java.util.List;

/**
 * One alerting rule: reads a snapshot, returns a sample per culprit. Called on the
 * engine's thread only, so a rule may keep history (counter windows) without locks.
 */
public interface Rule {
    /** Its effective settings (threshold, for, repeat, extras). */
    AlertsConfig.Rule settings();

    default String name() { return settings().name(); }

    List<Sample> evaluate(Snapshot snapshot, long nowMillis);

    /**
     * History the rule needs before a missing or low sample can be trusted: an alert that
     * was firing before a restart is not resolved before this much time has passed.
     */
    default Duration warmup() { return Duration.ZERO; }
}
