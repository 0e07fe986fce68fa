package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Durations;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.List;
import java.util.Map;

/**
 * GET /api/v1/alerts and GET /api/v1/alerts/rules, and the alerting metrics. Handlers
 * read the engine's last published view: nothing blocks the event loop.
 */
public final class AlertsApi {
    private final AlertService service;

    AlertsApi(AlertService service) {
        this.service = service;
    }

    /** Declares the routes on the agent's router (behind its token and limits). */
    public void mount(Router router) {
        router.get("/api/v1/alerts").handler(this::alerts);
        router.get("/api/v1/alerts/rules").handler(this::rules);
    }

    private void alerts(RoutingContext ctx) {
        ctx.json(alertsJson(service.engine().view()));
    }

    private void rules(RoutingContext ctx) {
        ctx.json(rulesJson(service.config()));
    }

    static JsonObject alertsJson(AlertEngine.View v) {
        return new JsonObject()
                .put("firing", list(v.firing()))
                .put("pending", list(v.pending()))
                .put("recent", list(v.recent()));
    }

    private static JsonArray list(List<AlertEngine.AlertView> alerts) {
        JsonArray a = new JsonArray();
        alerts.forEach(x -> a.add(alert(x)));
        return a;
    }

    static JsonObject alert(AlertEngine.AlertView a) {
        return new JsonObject()
                .put("rule", a.rule())
                .put("state", a.state().name().toLowerCase())
                .put("labels", strings(a.labels()))
                .put("annotations", strings(a.annotations()))
                .put("since", time(a.since()))
                .put("firedAt", time(a.firedAt()))
                .put("resolvedAt", time(a.resolvedAt()))
                .put("lastNotified", time(a.lastNotified()))
                .put("value", Payloads.finite(a.value()))
                .put("fingerprint", a.fingerprint());
    }

    /** The effective rules (defaults merged with the config file), receivers without secrets. */
    static JsonObject rulesJson(AlertsConfig c) {
        JsonArray rules = new JsonArray();
        for (AlertsConfig.Rule r : c.rules().values()) {
            AlertsConfig.Spec spec = r.spec();
            JsonObject settings = new JsonObject();
            r.settings().forEach((k, v) -> settings.put(k, v instanceof java.time.Duration d ? Durations.format(d)
                    : v instanceof Double n && n == Math.rint(n) ? (Object) n.longValue() : v));
            JsonObject o = new JsonObject()
                    .put("name", r.name())
                    .put("enabled", r.enabled())
                    .put("condition", spec.condition())
                    .put("for", Durations.format(r.forDuration()))
                    .put("repeatInterval", Durations.format(r.repeatInterval()))
                    .put("severity", r.severity());
            if (spec.thresholded()) {
                o.put("threshold", r.threshold()).put("clearBelow", r.clearBelow()).put("unit", spec.threshold().unit());
            }
            rules.add(o.put("settings", settings));
        }
        JsonArray receivers = new JsonArray();
        for (AlertsConfig.Receiver r : c.receivers()) {
            receivers.add(new JsonObject()
                    .put("name", r.name())
                    .put("format", r.format())
                    .put("url", r.redactedUrl())
                    .put("signed", r.secret() != null)
                    .put("alertmanager", r.alertmanagerApi())
                    .put("headers", new JsonArray(List.copyOf(r.headers().keySet()))));
        }
        AlertsConfig.Delivery d = c.delivery();
        return new JsonObject()
                .put("evaluationInterval", Durations.format(c.evaluationInterval()))
                .put("resendInterval", Durations.format(c.resendInterval()))
                .put("rules", rules)
                .put("receivers", receivers)
                .put("delivery", new JsonObject()
                        .put("initialBackoff", Durations.format(d.initialBackoff()))
                        .put("maxBackoff", Durations.format(d.maxBackoff()))
                        .put("timeout", Durations.format(d.timeout()))
                        .put("clientErrorAttempts", d.clientErrorAttempts())
                        .put("maxPending", d.maxPending()).put("maxPendingBytes", d.maxPendingBytes())
                        .put("maxAge", Durations.format(d.maxAge())).put("maxResponseBytes", d.maxResponseBytes()))
                .put("maxFiringPerRule", c.maxFiringPerRule());
    }

    /** tcpulse_alerts_firing{rule}, tcpulse_webhook_deliveries_total{receiver,outcome}, tcpulse_webhook_pending{receiver}. */
    public void writeMetrics(StringBuilder out) {
        AlertEngine.View v = service.engine().view();
        family(out, "tcpulse_alerts_firing", "gauge", "Alerts firing now, by rule.");
        for (Rule r : service.engine().rules()) {
            long n = v.firing().stream().filter(a -> a.rule().equals(r.name())).count();
            sample(out, "tcpulse_alerts_firing", n, "rule", r.name());
        }
        WebhookDelivery d = service.delivery();
        family(out, "tcpulse_webhook_deliveries_total", "counter",
                "Webhook delivery attempts by outcome: delivered (2xx), failed (connection error, timeout, 5xx, 408, 429;"
                        + " retried), rejected (other 4xx; retried a few times), dropped (given up after repeated 4xx).");
        if (d != null) {
            d.counts().forEach((receiver, m) -> m.forEach((outcome, n) ->
                    sample(out, "tcpulse_webhook_deliveries_total", n, "receiver", receiver, "outcome", outcome)));
        }
        family(out, "tcpulse_webhook_pending", "gauge", "Notifications in the outbox not yet delivered, by receiver.");
        if (d != null) d.pending().forEach((receiver, n) -> sample(out, "tcpulse_webhook_pending", n, "receiver", receiver));
        family(out, "tcpulse_webhook_pending_bytes", "gauge", "Bytes of the outbox's notifications not yet delivered, by receiver.");
        if (d != null) d.pendingBytes().forEach((receiver, n) -> sample(out, "tcpulse_webhook_pending_bytes", n, "receiver", receiver));
        family(out, "tcpulse_webhook_dropped_total", "counter",
                "Notifications dropped unsent, by receiver and reason: full (outbox over alerts.delivery.maxPending or"
                        + " maxPendingBytes; resolved first), max_age (older than maxAge), corrupt (unreadable file, quarantined).");
        if (d != null) {
            d.dropped().forEach((receiver, m) -> m.forEach((reason, n) ->
                    sample(out, "tcpulse_webhook_dropped_total", n, "receiver", receiver, "reason", reason)));
        }
    }

    private static void family(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void sample(StringBuilder out, String name, long value, String... labels) {
        out.append(name).append('{');
        for (int i = 0; i < labels.length; i += 2) {
            if (i > 0) out.append(',');
            out.append(labels[i]).append("=\"")
                    .append(labels[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
        }
        out.append("} ").append(value).append('\n');
    }

    private static JsonObject strings(Map<String, String> m) {
        JsonObject o = new JsonObject();
        if (m != null) m.forEach(o::put);
        return o;
    }

    private static String time(java.time.Instant t) {
        return t == null ? null : t.toString();
    }
}
