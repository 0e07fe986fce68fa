package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.AlertsConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The bodies receivers get, one per notification and format:
 * alertmanager (Prometheus Alertmanager's webhook JSON, version 4), json (one plain
 * event), slack (an incoming-webhook message). Each carries the idempotency key.
 */
final class Payloads {
    /** Alertmanager's endsAt for an alert that has not ended. */
    static final String ZERO_TIME = "0001-01-01T00:00:00Z";

    private Payloads() {}

    /** How long a firing alert sent to an Alertmanager stays active there without being sent again. */
    static final java.time.Duration DEFAULT_VALID_FOR = AlertsConfig.DEFAULT_RESEND.multipliedBy(4);

    static String render(Notification n, AlertsConfig.Receiver r, String externalUrl) {
        return render(n, r, externalUrl, DEFAULT_VALID_FOR);
    }

    /** validFor: a firing alert's endsAt in an Alertmanager's API body is its time plus this. */
    static String render(Notification n, AlertsConfig.Receiver r, String externalUrl, java.time.Duration validFor) {
        return switch (r.format()) {
            case AlertsConfig.Receiver.ALERTMANAGER_API -> alertmanagerApi(n, externalUrl, validFor).encode();
            case "json" -> json(n, r, externalUrl).encode();
            case "slack" -> slack(n).encode();
            default -> alertmanager(n, r, externalUrl).encode();
        };
    }

    static JsonObject alertmanager(Notification n, AlertsConfig.Receiver r, String externalUrl) {
        JsonObject alert = new JsonObject()
                .put("status", n.status())
                .put("labels", object(n.labels()))
                .put("annotations", object(n.annotations()))
                .put("startsAt", time(n.startsAt()))
                .put("endsAt", n.endsAt() == null ? ZERO_TIME : time(n.endsAt()))
                .put("generatorURL", externalUrl + "api/v1/alerts")
                .put("fingerprint", n.fingerprint());
        return new JsonObject()
                .put("version", "4")
                .put("groupKey", groupKey(n.groupLabels()))
                .put("truncatedAlerts", 0)
                .put("status", n.status())
                .put("receiver", r.name())
                .put("groupLabels", object(n.groupLabels()))
                .put("commonLabels", object(n.labels()))
                .put("commonAnnotations", object(n.annotations()))
                .put("externalURL", externalUrl)
                .put("alerts", new JsonArray().add(alert))
                .put("idempotencyKey", n.id());
    }

    /**
     * Alertmanager's POST /api/v2/alerts body, as Prometheus sends it: one alert whose endsAt
     * is in the near future while it fires (sent again before then) and when it cleared once
     * resolved; the same labels and annotations as the webhook payloads.
     */
    static JsonArray alertmanagerApi(Notification n, String externalUrl, java.time.Duration validFor) {
        Instant ends = n.endsAt() != null ? n.endsAt() : n.createdAt().plus(validFor);
        JsonObject labels = new JsonObject();
        n.labels().forEach((k, v) -> {
            if (v != null && !v.isEmpty()) labels.put(k, v); // Alertmanager refuses empty values; Prometheus drops them
        });
        return new JsonArray().add(new JsonObject()
                .put("labels", labels)
                .put("annotations", object(n.annotations()))
                .put("startsAt", time(n.startsAt()))
                .put("endsAt", time(ends))
                .put("generatorURL", externalUrl + "api/v1/alerts"));
    }

    static JsonObject json(Notification n, AlertsConfig.Receiver r, String externalUrl) {
        return new JsonObject()
                .put("idempotencyKey", n.id())
                .put("receiver", r.name())
                .put("status", n.status())
                .put("repeat", n.repeat())
                .put("rule", n.rule())
                .put("severity", n.labels().get("severity"))
                .put("summary", n.annotations().get("summary"))
                .put("description", n.annotations().get("description"))
                .put("labels", object(n.labels()))
                .put("value", finite(n.value()))
                .put("startsAt", time(n.startsAt()))
                .put("endsAt", n.endsAt() == null ? null : time(n.endsAt()))
                .put("fingerprint", n.fingerprint())
                .put("externalURL", externalUrl);
    }

    static JsonObject slack(Notification n) {
        boolean firing = n.status().equals(Notification.FIRING);
        String labels = n.labels().entrySet().stream()
                .filter(e -> !e.getKey().equals("alertname"))
                .map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(", "));
        String text = (firing ? ":rotating_light: *[FIRING" + (n.repeat() ? ", still" : "") + "] "
                : ":white_check_mark: *[RESOLVED] ") + n.rule() + "* " + escape(n.annotations().get("summary")) + "\n"
                + escape(n.annotations().get("description")) + "\n"
                + "_" + escape(labels) + "_";
        return new JsonObject().put("text", text).put("idempotencyKey", n.id());
    }

    /** Alertmanager's form: {}:{alertname="x", netns="1"}. */
    static String groupKey(Map<String, String> groupLabels) {
        return "{}:{" + groupLabels.entrySet().stream()
                .map(e -> e.getKey() + "=\"" + e.getValue().replace("\\", "\\\\").replace("\"", "\\\"") + "\"")
                .collect(Collectors.joining(", ")) + "}";
    }

    private static JsonObject object(Map<String, String> m) {
        JsonObject o = new JsonObject();
        m.forEach(o::put);
        return o;
    }

    static String time(Instant t) {
        return t.toString();
    }

    static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    /** Slack's three control characters. */
    private static String escape(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
