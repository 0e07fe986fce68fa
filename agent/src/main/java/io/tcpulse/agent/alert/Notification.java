package io.tcpulse.agent.alert;

import java.time.Instant;
import java.util.Map;
import java.util.SortedMap;

/**
 * One message about one alert (one rule and one culprit): it started firing, it is still
 * firing (repeat), or it resolved. The id is the idempotency key every receiver gets, in
 * the Idempotency-Key header and in the payload; retries of the same notification keep it.
 *
 * @param groupLabels alertname, host and the culprit's identity labels: what the
 *                    notification is grouped by (Alertmanager's groupLabels)
 * @param endsAt      when it resolved; null while firing
 */
public record Notification(String id, String status, String rule, SortedMap<String, String> labels,
                           Map<String, String> annotations, SortedMap<String, String> groupLabels,
                           Instant startsAt, Instant endsAt, String fingerprint, double value,
                           boolean repeat, Instant createdAt) {
    public static final String FIRING = "firing";
    public static final String RESOLVED = "resolved";
}
