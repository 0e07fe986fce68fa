package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.http.ApiServer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/** GET /api/v1/alerts, /api/v1/alerts/rules and the metrics, through the agent's HTTP server. */
class AlertsApiTest {
    private final Vertx vertx = Vertx.vertx();
    private final HttpClient http = HttpClient.newHttpClient();
    private AlertService service;

    @AfterEach
    void tearDown() {
        if (service != null) service.close();
        vertx.close().await();
    }

    private String get(int port, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    @Test
    void alertsRulesAndMetrics() throws Exception {
        AlertsConfig config = Config.fromJson("""
                {"alerts": {"rules": {
                    "acceptQueueOverflow": {"for": "0s"},
                    "synFlood": {"enabled": false},
                    "timeWaitExhaustion": {"threshold": 0.9, "clearBelow": 0.85}
                }}}""").alerts();
        Clock clock = new Clock();
        Source source = new Source();
        service = AlertService.create(config, source, null, clock, Map.of("host", "web-1"));
        source.snapshot = Parts.empty().listeners(listener(8080, 0, "ok"), listener(8081, 0, "ok")).snapshot();
        service.evaluateOnce();
        clock.advance(Duration.ofSeconds(5));
        source.snapshot = Parts.empty().listeners(listener(8080, 7, "ok"), listener(8081, 3, "ok")).snapshot();
        service.evaluateOnce();
        clock.advance(Duration.ofSeconds(5));
        source.snapshot = Parts.empty().listeners(listener(8080, 9, "ok")).snapshot(); // 8081 closed: resolved
        service.evaluateOnce();

        ApiServer api = new ApiServer(source, "127.0.0.1", 0).extend(service.api()::mount, service.api()::writeMetrics);
        vertx.deployVerticle(api).await();
        int port = api.actualPort();

        JsonObject alerts = new JsonObject(get(port, "/api/v1/alerts"));
        JsonArray firing = alerts.getJsonArray("firing");
        assertEquals(1, firing.size());
        JsonObject a = firing.getJsonObject(0);
        assertEquals("acceptQueueOverflow", a.getString("rule"));
        assertEquals("firing", a.getString("state"));
        assertEquals("8080", a.getJsonObject("labels").getString("port"));
        assertEquals("nginx", a.getJsonObject("labels").getString("comm"));
        assertEquals("4242", a.getJsonObject("labels").getString("pid"));
        assertEquals("web-1", a.getJsonObject("labels").getString("host"));
        assertEquals(T0.plusSeconds(5).toString(), a.getString("since"));
        assertEquals(9.0, a.getDouble("value"));
        assertTrue(a.getJsonObject("annotations").getString("description").contains("10.0.0.1:8080"));
        JsonArray recent = alerts.getJsonArray("recent");
        assertEquals(1, recent.size());
        assertEquals("resolved", recent.getJsonObject(0).getString("state"));
        assertEquals("8081", recent.getJsonObject(0).getJsonObject("labels").getString("port"));
        assertEquals(T0.plusSeconds(10).toString(), recent.getJsonObject(0).getString("resolvedAt"));

        JsonObject rules = new JsonObject(get(port, "/api/v1/alerts/rules"));
        assertEquals("5s", rules.getString("evaluationInterval"));
        assertEquals(AlertsConfig.BUILTIN.size(), rules.getJsonArray("rules").size());
        JsonObject overflow = find(rules.getJsonArray("rules"), "acceptQueueOverflow");
        assertEquals("0s", overflow.getString("for"));
        assertEquals(1.0, overflow.getDouble("threshold"));
        assertEquals("10s", overflow.getJsonObject("settings").getString("window"));
        assertEquals("4h", overflow.getString("repeatInterval"));
        assertFalse(find(rules.getJsonArray("rules"), "synFlood").getBoolean("enabled"));
        assertEquals(0.85, find(rules.getJsonArray("rules"), "timeWaitExhaustion").getDouble("clearBelow"));
        assertEquals(20, find(rules.getJsonArray("rules"), "handshakeLatency").getJsonObject("settings").getInteger("minCount"));

        String metrics = get(port, "/metrics");
        assertTrue(metrics.contains("# TYPE tcpulse_alerts_firing gauge\n"), metrics);
        assertTrue(metrics.contains("tcpulse_alerts_firing{rule=\"acceptQueueOverflow\"} 1\n"), metrics);
        assertTrue(metrics.contains("tcpulse_alerts_firing{rule=\"closeWaitLeak\"} 0\n"), metrics);
        assertFalse(metrics.contains("tcpulse_alerts_firing{rule=\"synFlood\"}"), "disabled rules are not evaluated");
        assertTrue(metrics.contains("# TYPE tcpulse_webhook_deliveries_total counter\n"), metrics);
    }

    @Test
    void receiversAreShownWithoutSecrets() throws Exception {
        AlertsConfig config = Config.fromJson("""
                {"alerts": {"receivers": [{"name": "slack", "url": "https://hooks.slack.com/services/T0/B0/s3cr3t",
                  "format": "slack", "secret": "k3y", "headers": {"Authorization": "Bearer t0ken"}}]}}""").alerts();
        String json = AlertsApi.rulesJson(config).encode();
        assertFalse(json.contains("s3cr3t") || json.contains("k3y") || json.contains("t0ken"), json);
        JsonObject r = AlertsApi.rulesJson(config).getJsonArray("receivers").getJsonObject(0);
        assertEquals("https://hooks.slack.com/…", r.getString("url"));
        assertTrue(r.getBoolean("signed"));
        assertEquals(new JsonArray().add("Authorization"), r.getJsonArray("headers"));
    }

    private static JsonObject find(JsonArray rules, String name) {
        for (int i = 0; i < rules.size(); i++) {
            if (rules.getJsonObject(i).getString("name").equals(name)) return rules.getJsonObject(i);
        }
        throw new AssertionError("no rule " + name);
    }
}
