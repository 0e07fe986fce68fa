package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.AlertsConfig;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** The three payload formats. */
class PayloadsTest {
    private static final Instant START = Instant.parse("2025-01-01T00:00:05Z");
    private static final Instant END = Instant.parse("2025-01-01T00:01:05Z");

    private static Notification notification(String status) {
        TreeMap<String, String> labels = new TreeMap<>(Map.of("alertname", "acceptQueueOverflow", "host", "web-1",
                "netns", "4026531840", "addr", "0.0.0.0", "port", "8080", "comm", "nginx", "pid", "4242",
                "severity", "critical"));
        TreeMap<String, String> group = new TreeMap<>(Map.of("alertname", "acceptQueueOverflow", "host", "web-1",
                "netns", "4026531840", "addr", "0.0.0.0", "port", "8080"));
        Map<String, String> annotations = new LinkedHashMap<>();
        annotations.put("summary", "Accept queue of 0.0.0.0:8080 is overflowing (nginx (pid 4242))");
        annotations.put("description", "45 connection attempts were dropped <in> the last 10s");
        return new Notification("7d1c0c8e-0000-4000-8000-000000000001", status, "acceptQueueOverflow", labels, annotations,
                group, START, status.equals("resolved") ? END : null, "0123456789abcdef", 45, false, START);
    }

    private static AlertsConfig.Receiver receiver(String format) {
        return new AlertsConfig.Receiver("ops", "http://x/", format, Map.of(), null);
    }

    @Test
    void alertmanagerVersion4() {
        JsonObject p = new JsonObject(Payloads.render(notification("firing"), receiver("alertmanager"), "http://web-1:9470/"));
        assertEquals("4", p.getString("version"));
        assertEquals("firing", p.getString("status"));
        assertEquals("ops", p.getString("receiver"));
        assertEquals("http://web-1:9470/", p.getString("externalURL"));
        assertEquals("{}:{addr=\"0.0.0.0\", alertname=\"acceptQueueOverflow\", host=\"web-1\", netns=\"4026531840\", port=\"8080\"}",
                p.getString("groupKey"));
        assertEquals("8080", p.getJsonObject("groupLabels").getString("port"));
        assertNull(p.getJsonObject("groupLabels").getString("comm"));
        assertEquals("nginx", p.getJsonObject("commonLabels").getString("comm"));
        assertEquals(0, p.getInteger("truncatedAlerts"));
        assertEquals("7d1c0c8e-0000-4000-8000-000000000001", p.getString("idempotencyKey"));
        JsonObject a = p.getJsonArray("alerts").getJsonObject(0);
        assertEquals("firing", a.getString("status"));
        assertEquals("2025-01-01T00:00:05Z", a.getString("startsAt"));
        assertEquals("0001-01-01T00:00:00Z", a.getString("endsAt"));
        assertEquals("0123456789abcdef", a.getString("fingerprint"));
        assertEquals("http://web-1:9470/api/v1/alerts", a.getString("generatorURL"));
        assertEquals("4242", a.getJsonObject("labels").getString("pid"));
        assertTrue(a.getJsonObject("annotations").getString("summary").contains("8080"));

        JsonObject r = new JsonObject(Payloads.render(notification("resolved"), receiver("alertmanager"), "http://web-1:9470/"));
        assertEquals("resolved", r.getString("status"));
        assertEquals("2025-01-01T00:01:05Z", r.getJsonArray("alerts").getJsonObject(0).getString("endsAt"));
    }

    @Test
    void plainJsonEvent() {
        JsonObject p = new JsonObject(Payloads.render(notification("resolved"), receiver("json"), "http://web-1:9470/"));
        assertEquals("7d1c0c8e-0000-4000-8000-000000000001", p.getString("idempotencyKey"));
        assertEquals("resolved", p.getString("status"));
        assertEquals("acceptQueueOverflow", p.getString("rule"));
        assertEquals("critical", p.getString("severity"));
        assertEquals(45.0, p.getDouble("value"));
        assertEquals("2025-01-01T00:01:05Z", p.getString("endsAt"));
        assertEquals("8080", p.getJsonObject("labels").getString("port"));
    }

    @Test
    void slackText() {
        JsonObject p = new JsonObject(Payloads.render(notification("firing"), receiver("slack"), "http://web-1:9470/"));
        String text = p.getString("text");
        assertTrue(text.startsWith(":rotating_light: *[FIRING] acceptQueueOverflow* Accept queue of 0.0.0.0:8080"), text);
        assertTrue(text.contains("&lt;in&gt;"), "Slack's control characters escaped: " + text);
        assertTrue(text.contains("port=8080"), text);
        assertEquals("7d1c0c8e-0000-4000-8000-000000000001", p.getString("idempotencyKey"));
    }
}
