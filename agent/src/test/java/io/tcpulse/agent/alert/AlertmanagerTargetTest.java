package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Config;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Alertmanager targets (alerts.alertmanagers, --alertmanager) on a clock the test moves:
 * Alertmanager's API body, firing alerts re-sent every resendInterval with endsAt four
 * resends ahead, a resolved alert ending when it cleared, every Alertmanager of a pair
 * told everything, and one added by a reload told what fires.
 */
class AlertmanagerTargetTest {
    @TempDir Path stateDir;
    private final Clock clock = new Clock();
    private final Source source = new Source();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closing) c.close();
    }

    private static AlertsConfig config(String alertmanagersJson) throws Config.ConfigException {
        return Config.fromJson("""
                {"alerts": {
                  "evaluationInterval": "5s",
                  "resendInterval": "10s",
                  "rules": {
                    "acceptQueueOverflow": {"for": "0s", "window": "1m"},
                    "acceptQueueFull": {"enabled": false}, "synFlood": {"enabled": false},
                    "synQueueDrops": {"enabled": false}, "timeWaitExhaustion": {"enabled": false},
                    "timeWaitOverflow": {"enabled": false}, "closeWaitLeak": {"enabled": false},
                    "resetStorm": {"enabled": false}, "handshakeLatency": {"enabled": false},
                    "eventsLost": {"enabled": false}, "probeUnavailable": {"enabled": false}
                  },
                  "alertmanagers": [%s],
                  "delivery": {"initialBackoff": "20ms", "maxBackoff": "200ms", "timeout": "2s"}
                }}""".formatted(alertmanagersJson)).alerts();
    }

    private static String am(TestReceiver r) {
        return "{\"url\": \"http://127.0.0.1:" + r.port + "\"}";
    }

    private TestReceiver up() throws Exception {
        TestReceiver r = new TestReceiver();
        closing.add(r);
        r.up();
        return r;
    }

    private AlertService service(AlertsConfig config) throws Exception {
        AlertService s = AlertService.create(config, source, stateDir, clock, Map.of("host", "web-1"));
        closing.add(s);
        s.startDelivery("http://web-1:9470/");
        return s;
    }

    private void evaluate(AlertService s, long overflows) {
        source.snapshot = Parts.empty().listeners(listener(8001, overflows, ListenerStatus.VERDICT_OK)).snapshot();
        clock.advance(Duration.ofSeconds(5));
        s.evaluateOnce();
    }

    private static JsonObject alert(TestReceiver.Request r) {
        JsonArray a = new JsonArray(r.body());
        assertEquals(1, a.size(), r.body());
        return a.getJsonObject(0);
    }

    @Test
    void firingAlertsAreResentWithEndsAtAheadAndTheResolvedOneEndsWhenItCleared() throws Exception {
        TestReceiver a = up(), b = up();
        AlertService s = service(config(am(a) + ", " + am(b)));
        assertEquals(List.of("alertmanager", "alertmanager-2"), s.receiverNames());
        evaluate(s, 0);
        evaluate(s, 10); // firing
        Instant fired = clock.instant();
        awaitDelivered(s, 1);
        for (TestReceiver r : List.of(a, b)) {
            JsonObject x = alert(r.delivered().get(0));
            assertEquals("acceptQueueOverflow", x.getJsonObject("labels").getString("alertname"));
            assertEquals("8001", x.getJsonObject("labels").getString("port"));
            assertEquals("web-1", x.getJsonObject("labels").getString("host"));
            assertNotNull(x.getJsonObject("annotations").getString("summary"));
            assertEquals("http://web-1:9470/api/v1/alerts", x.getString("generatorURL"));
            assertEquals(fired.plusSeconds(40).toString(), x.getString("endsAt"), "four resends (10s) ahead");
            assertEquals("application/json", r.delivered().get(0).contentType());
        }
        evaluate(s, 11); // 5 s later: no resend yet
        Thread.sleep(200);
        assertEquals(1, a.delivered().size());
        evaluate(s, 12); // 10 s after the first: sent again, endsAt moved on
        awaitDelivered(s, 2);
        JsonObject again = alert(a.delivered().get(1));
        assertEquals(clock.instant().plusSeconds(40).toString(), again.getString("endsAt"));
        assertEquals(alert(a.delivered().get(0)).getString("startsAt"), again.getString("startsAt"));
        assertEquals(alert(a.delivered().get(0)).getJsonObject("labels"), again.getJsonObject("labels"));

        for (int i = 0; i < 13; i++) evaluate(s, 12); // a minute without overflows: resolved
        Instant resolvedAt = s.engine().view().recent().get(0).resolvedAt();
        await(() -> lastEndsAt(a).equals(resolvedAt.toString()) && lastEndsAt(b).equals(resolvedAt.toString()),
                () -> a.requests + " " + b.requests);
        assertEquals(0L, s.delivery().counts().get("alertmanager").get("rejected"));
    }

    @Test
    void anAlertmanagerAddedByAReloadHearsWhatFiresAtTheNextEvaluation() throws Exception {
        TestReceiver a = up(), added = up();
        AlertService s = service(config(am(a)));
        evaluate(s, 0);
        evaluate(s, 10); // firing
        awaitDelivered(s, 1);
        s.reload(config(am(a) + ", {\"name\": \"added\", \"url\": \"http://127.0.0.1:" + added.port + "/\"}"), null);
        evaluate(s, 11);
        await(() -> added.delivered().size() == 1, () -> added.requests.toString());
        assertTrue(Instant.parse(alert(added.delivered().get(0)).getString("endsAt")).isAfter(clock.instant()));
    }

    /** Every Alertmanager's answer to n notifications read by the agent (nothing pending). */
    private static void awaitDelivered(AlertService s, long n) throws InterruptedException {
        await(() -> s.delivery().counts().values().stream().allMatch(m -> m.get("delivered") == n)
                && s.delivery().pending().values().stream().allMatch(p -> p == 0), () -> s.delivery().counts().toString());
    }

    @Test
    void theRulesApiShowsAlertmanagersWithoutTheirCredentials(@TempDir Path dir) throws Exception {
        Path token = java.nio.file.Files.writeString(dir.resolve("token"), "very-secret-token");
        AlertsConfig c = config("{\"name\": \"am-1\", \"url\": \"https://am-1:9093\", \"bearerTokenFile\": \"" + token + "\"}");
        JsonObject json = AlertsApi.rulesJson(c);
        JsonObject am = json.getJsonArray("receivers").getJsonObject(0);
        assertEquals("am-1", am.getString("name"));
        assertTrue(am.getBoolean("alertmanager"));
        assertEquals("alertmanager-api", am.getString("format"));
        assertEquals("https://am-1:9093/…", am.getString("url"));
        assertEquals("10s", json.getString("resendInterval"));
        assertFalse(json.encode().contains("very-secret-token"), json.encode());
    }

    /** An Alertmanager behind HTTPS with its own CA (tlsCaFile) and basic auth gets the alert; the JVM's trust store is not used. */
    @Test
    void anAlertmanagerBehindTlsWithItsOwnCaAndBasicAuth(@TempDir Path dir) throws Exception {
        Path cert = dir.resolve("cert.pem"), key = dir.resolve("key.pem"), p12 = dir.resolve("server.p12");
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key.toString(), "-out", cert.toString());
        run("openssl", "pkcs12", "-export", "-in", cert.toString(), "-inkey", key.toString(), "-out", p12.toString(),
                "-passout", "pass:changeit");
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        try (var in = java.nio.file.Files.newInputStream(p12)) {
            ks.load(in, "changeit".toCharArray());
        }
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        List<String> got = java.util.Collections.synchronizedList(new ArrayList<>());
        com.sun.net.httpserver.HttpsServer server = com.sun.net.httpserver.HttpsServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(ctx));
        server.createContext("/", ex -> {
            got.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " "
                    + ex.getRequestHeaders().getFirst("Authorization") + " "
                    + new String(ex.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.start();
        closing.add(() -> server.stop(0));
        Path pw = java.nio.file.Files.writeString(dir.resolve("pw"), "pa55\n");
        AlertService s = service(config("{\"name\": \"tls\", \"url\": \"https://127.0.0.1:" + server.getAddress().getPort()
                + "\", \"tlsCaFile\": \"" + cert + "\", \"basicAuth\": {\"username\": \"tcpulse\", \"passwordFile\": \""
                + pw + "\"}}"));
        evaluate(s, 0);
        evaluate(s, 10);
        await(() -> !got.isEmpty(), () -> s.delivery().counts().toString());
        String r = got.get(0);
        assertTrue(r.startsWith("POST /api/v2/alerts Basic " + java.util.Base64.getEncoder().encodeToString("tcpulse:pa55".getBytes())
                + " [{\"labels\""), r);
    }

    @Test
    void labelsWithEmptyValuesAreLeftOutAsPrometheusDoes() {
        java.util.SortedMap<String, String> labels = new java.util.TreeMap<>(Map.of("alertname", "x", "unit", "", "port", "80"));
        Notification n = new Notification("id", Notification.FIRING, "x", labels, Map.of("summary", "s"), labels,
                Instant.parse("2025-01-01T00:00:00Z"), null, "f", 1, false, Instant.parse("2025-01-01T00:01:00Z"));
        JsonObject a = Payloads.alertmanagerApi(n, "http://h:9470/", Duration.ofMinutes(4)).getJsonObject(0);
        assertEquals(new JsonObject().put("alertname", "x").put("port", "80"), a.getJsonObject("labels"));
        assertEquals("2025-01-01T00:05:00Z", a.getString("endsAt"));
        assertEquals("2025-01-01T00:00:00Z", a.getString("startsAt"));
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }

    private static String lastEndsAt(TestReceiver r) {
        List<TestReceiver.Request> d = r.delivered();
        return d.isEmpty() ? "" : alert(d.get(d.size() - 1)).getString("endsAt");
    }

    private static void await(Supplier<Boolean> done, Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (done.get()) return;
            Thread.sleep(20);
        }
        fail("timed out: " + what.get());
    }
}
