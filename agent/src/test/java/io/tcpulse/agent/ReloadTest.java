package io.tcpulse.agent;

import io.tcpulse.agent.alert.TestReceiver;
import io.tcpulse.agent.alert.WebhookDelivery;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A real agent (no probe: sockets from /proc) started with a config file, the file
 * changed, then POST /api/v1/reload or SIGHUP. What the answer says
 * is in force must be in force: rules, receivers, secrets, the token, the TLS pair; an
 * invalid file changes nothing and says why, line by line.
 *
 * Alerts come from closeWaitLeak: a child process holds CLOSE_WAIT sockets (peers
 * closed, it never does), and only alerts naming its pid count; other processes
 * on the host may raise their own. The sockets are made before the agent starts: without
 * the probe, owners come from a /proc scan that runs at start and then every 10 s.
 */
class ReloadTest {
    /** The process holding this test's CLOSE_WAIT sockets: only alerts naming it count. */
    private String pid = "none";

    @TempDir Path dir;
    private Path configFile;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) closing.get(i).close();
    }

    // ---- the reproduction ----

    @Test
    void aChangedReceiverAndThresholdAreInForceWhenReloadAnswers() throws Exception {
        TestReceiver before = receiverUp(), after = receiverUp();
        closeWaits(3);
        Main.Agent agent = start(alerts(1000, 100, receiver("ops", before.url())), "--listen", "127.0.0.1:0");
        awaitOwnCloseWaits(agent, 3);
        assertTrue(mine(alerts(agent).getJsonArray("firing")).isEmpty(), "fewer than minCount (1000): no alert");

        write(alerts(1, 250, receiver("ops", after.url())));
        HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", null);
        assertEquals(200, r.statusCode(), r.body());
        JsonObject answer = new JsonObject(r.body());
        assertTrue(answer.getBoolean("reloaded"));
        assertEquals(configFile.toString(), answer.getString("file"));
        assertEquals(new JsonArray(List.of("alerts.rules.closeWaitLeak", "alerts.rules.resetStorm", "alerts.receivers.ops")),
                answer.getJsonArray("changed"));
        assertEquals(new JsonArray(), answer.getJsonArray("restartRequired"));

        // in force the moment the answer came
        JsonObject rules = getJson(agent, "/api/v1/alerts/rules");
        assertEquals("http://127.0.0.1:" + after.port + "/…", rules.getJsonArray("receivers").getJsonObject(0).getString("url"));
        assertEquals(250.0, rule(rules, "resetStorm").getDouble("threshold"));
        assertEquals(125.0, rule(rules, "resetStorm").getDouble("clearBelow"));
        assertEquals(1, rule(rules, "closeWaitLeak").getJsonObject("settings").getInteger("minCount"));
        JsonObject config = getJson(agent, "/api/v1/health").getJsonObject("config");
        assertEquals(configFile.toString(), config.getString("file"));
        assertEquals(answer.getLong("loadedMillis"), config.getLong("loadedMillis"));
        assertNull(config.getString("lastError"));

        // the new minCount fires, and the notification goes to the new URL
        await(() -> !ownNotifications(after, "firing").isEmpty(),
                () -> "nothing for pid " + pid + " at the new receiver; alerts " + alerts(agent));
        JsonObject labels = ownNotifications(after, "firing").get(0).getJsonArray("alerts").getJsonObject(0).getJsonObject("labels");
        assertEquals("closeWaitLeak", labels.getString("alertname"));
        assertEquals(List.of(), ownNotifications(before, "firing"), "the old URL got nothing");
    }

    // ---- secrets, token, TLS ----

    @Test
    void aRotatedSecretFileSignsTheNextDelivery() throws Exception {
        Path secret = dir.resolve("webhook.key");
        Files.writeString(secret, "old-secret-0123\n");
        TestReceiver hook = receiverUp();
        String receivers = "{\"name\": \"ops\", \"url\": \"" + hook.url() + "\", \"secretFile\": \"" + secret + "\"}";
        AutoCloseable sockets = closeWaits(2);
        Main.Agent agent = start(alerts(1, 100, receivers), "--listen", "127.0.0.1:0");
        await(() -> !ownRequests(hook, "firing").isEmpty(), () -> "no firing alert; alerts " + alerts(agent));
        TestReceiver.Request firing = ownRequests(hook, "firing").get(0);
        assertEquals(WebhookDelivery.signature("old-secret-0123", bytes(firing.body())), firing.signature());

        Files.writeString(secret, "new-secret-4567\n"); // the config file itself does not change
        HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(new JsonArray(List.of("alerts.receivers.ops")), new JsonObject(r.body()).getJsonArray("changed"));

        sockets.close(); // the CLOSE_WAIT sockets go: resolved
        await(() -> !ownRequests(hook, "resolved").isEmpty(), () -> "no resolved alert; alerts " + alerts(agent));
        TestReceiver.Request resolved = ownRequests(hook, "resolved").get(0);
        assertEquals(WebhookDelivery.signature("new-secret-4567", bytes(resolved.body())), resolved.signature(),
                "signed with the rotated secret");
    }

    @Test
    void aRotatedTokenFileRefusesTheOldTokenAndTakesTheNewOne() throws Exception {
        String oldToken = "old-token-0123456789abcdef", newToken = "new-token-fedcba9876543210";
        Path token = dir.resolve("token");
        writePrivate(token, oldToken);
        Main.Agent agent = start("{\"http\": {\"tokenFile\": \"" + token + "\"}}", "--listen", "127.0.0.1:0");
        assertEquals(200, send(agent, "GET", "/api/v1/health", oldToken).statusCode());
        assertEquals(401, send(agent, "GET", "/api/v1/health", newToken).statusCode());

        writePrivate(token, newToken);
        HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", oldToken);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(new JsonArray(List.of("http.tokenFile")), new JsonObject(r.body()).getJsonArray("changed"));

        HttpResponse<String> refused = send(agent, "GET", "/api/v1/health", oldToken);
        assertEquals(401, refused.statusCode());
        assertEquals("unauthorized", new JsonObject(refused.body()).getString("error"));
        assertEquals(200, send(agent, "GET", "/api/v1/health", newToken).statusCode());
        assertEquals(200, send(agent, "GET", "/metrics", newToken).statusCode());
    }

    @Test
    void aRenewedTlsPairServesNewConnectionsAndABrokenOneIsRefused() throws Exception {
        Path first = dir.resolve("first"), second = dir.resolve("second"), cert = dir.resolve("cert.pem"), key = dir.resolve("key.pem");
        pemPair(first, "first");
        pemPair(second, "second");
        Files.copy(first.resolve("cert.pem"), cert);
        Files.copy(first.resolve("key.pem"), key);
        Main.Agent agent = start("{\"http\": {\"tlsCert\": \"" + cert + "\", \"tlsKey\": \"" + key + "\"}}", "--listen", "127.0.0.1:0");
        HttpClient https = trusting(first.resolve("cert.pem"), second.resolve("cert.pem"));
        assertEquals("CN=first", servedCert(https, agent));

        Files.copy(second.resolve("cert.pem"), cert, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(second.resolve("key.pem"), key, StandardCopyOption.REPLACE_EXISTING);
        HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + agent.port() + "/api/v1/reload"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(new JsonArray(List.of("http.tlsCert", "http.tlsKey")), new JsonObject(r.body()).getJsonArray("changed"));
        assertEquals("CN=second", servedCert(trusting(first.resolve("cert.pem"), second.resolve("cert.pem")), agent),
                "a new connection gets the renewed certificate");

        Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        HttpClient fresh = trusting(first.resolve("cert.pem"), second.resolve("cert.pem"));
        HttpResponse<String> refused = fresh.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + agent.port() + "/api/v1/reload"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, refused.statusCode(), refused.body());
        assertTrue(new JsonObject(refused.body()).getString("detail").startsWith("http.tlsCert " + cert), refused.body());
        assertEquals("CN=second", servedCert(trusting(first.resolve("cert.pem"), second.resolve("cert.pem")), agent),
                "a pair that cannot be used changes nothing");
    }

    // ---- what does not reload ----

    @Test
    void anInvalidFileIsRefusedWithItsLinesAndChangesNothing() throws Exception {
        TestReceiver hook = receiverUp(), other = receiverUp();
        Main.Agent agent = start(alerts(5, 100, receiver("ops", hook.url())), "--listen", "127.0.0.1:0");
        long loaded = getJson(agent, "/api/v1/health").getJsonObject("config").getLong("loadedMillis");

        // a valid change (minCount, the URL) next to two mistakes: none of it may apply
        Files.writeString(configFile, """
                {
                  "alerts": {
                    "evaluationInterval": "soon",
                    "rules": {
                      "closeWaitLeak": {"minCount": 7, "minAge": "-5s"}
                    },
                    "receivers": [{"name": "ops", "url": "%s"}]
                  }
                }
                """.formatted(other.url()));
        HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", null);
        assertEquals(400, r.statusCode(), r.body());
        JsonObject error = new JsonObject(r.body());
        assertEquals("invalid config", error.getString("error"));
        List<String> expected = List.of(
                "line 3: alerts.evaluationInterval must be a positive duration like 5m, got \"soon\"",
                "line 5: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\"");
        assertEquals(new JsonArray(expected), error.getJsonArray("problems"));
        // what `tcpulse check --config FILE` lists, and what the agent would print at start-up
        Config.ConfigException check = assertThrows(Config.ConfigException.class,
                () -> Config.parse(new String[] {"--config", configFile.toString()}));
        assertEquals(expected, check.problems());
        assertEquals(check.getMessage(), error.getString("detail"));

        JsonObject rules = getJson(agent, "/api/v1/alerts/rules");
        assertEquals(5, rule(rules, "closeWaitLeak").getJsonObject("settings").getInteger("minCount"));
        assertEquals("100ms", rule(rules, "closeWaitLeak").getJsonObject("settings").getString("minAge"), "the old rule");
        assertEquals("http://127.0.0.1:" + hook.port + "/…", rules.getJsonArray("receivers").getJsonObject(0).getString("url"));
        assertEquals("200ms", rules.getString("evaluationInterval"));
        JsonObject config = getJson(agent, "/api/v1/health").getJsonObject("config");
        assertEquals(check.getMessage(), config.getString("lastError"));
        assertEquals(loaded, config.getLong("loadedMillis"), "still the config loaded at start-up");

        write(alerts(7, 100, receiver("ops", other.url()))); // fixed
        HttpResponse<String> ok = send(agent, "POST", "/api/v1/reload", null);
        assertEquals(200, ok.statusCode(), ok.body());
        config = getJson(agent, "/api/v1/health").getJsonObject("config");
        assertNull(config.getString("lastError"));
        assertTrue(config.getLong("loadedMillis") >= loaded);
        assertEquals(7, rule(getJson(agent, "/api/v1/alerts/rules"), "closeWaitLeak").getJsonObject("settings").getInteger("minCount"));
    }

    @Test
    void startUpSettingsAreReportedNotAppliedAndFlagsStillWin() throws Exception {
        Main.Agent agent = start("""
                {"listen": "127.0.0.1:0", "walk": {"intervalMs": 1000}, "events": {"recent": 100},
                 "http": {"requestsPerSecond": 100}}""");
        int port = agent.port();
        write("""
                {"listen": "127.0.0.1:1", "walk": {"intervalMs": 5000}, "events": {"recent": 200},
                 "probe": {"enabled": true}, "http": {"requestsPerSecond": 50}}""");
        HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", null);
        assertEquals(200, r.statusCode(), r.body());
        JsonObject answer = new JsonObject(r.body());
        assertEquals(new JsonArray(List.of("http.requestsPerSecond")), answer.getJsonArray("changed"));
        // walk.intervalMs and probe.enabled are set by flags (--walk-interval-ms, --no-probe): the file does not move them
        assertEquals(new JsonArray(List.of("listen", "events.recent")), answer.getJsonArray("restartRequired"));
        assertEquals(port, agent.port(), "still listening where it started");
        JsonObject health = getJson(agent, "/api/v1/health");
        assertEquals(new JsonArray(List.of("listen", "events.recent")), health.getJsonObject("config").getJsonArray("restartRequired"));
        assertFalse(health.getJsonObject("probe").getBoolean("available"), "--no-probe still holds");
    }

    @Test
    void aRemovedReceiverKeepsNothingPendingAndTheLogSaysSo() throws Exception {
        TestReceiver kept = receiverUp();
        TestReceiver gone = new TestReceiver(); // never up: what is meant for it waits in the outbox
        closing.add(gone);
        closeWaits(2);
        Main.Agent agent = start(alerts(1, 100, receiver("kept", kept.url()) + ", " + receiver("gone", gone.url())),
                "--listen", "127.0.0.1:0");
        Path outbox = dir.resolve("state/outbox/gone");
        await(() -> !ownRequests(kept, "firing").isEmpty(), () -> "no firing alert; alerts " + alerts(agent));
        await(() -> entries(outbox) > 0, () -> "nothing pending for gone in " + outbox);

        List<String> log = Collections.synchronizedList(new ArrayList<>());
        Logger serviceLog = Logger.getLogger("io.tcpulse.agent.alert.AlertService");
        Handler capture = new Handler() {
            @Override public void publish(LogRecord rec) { log.add(new SimpleFormatter().formatMessage(rec)); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        serviceLog.addHandler(capture);
        try {
            write(alerts(1, 100, receiver("kept", kept.url())));
            HttpResponse<String> r = send(agent, "POST", "/api/v1/reload", null);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(new JsonArray(List.of("alerts.receivers.gone")), new JsonObject(r.body()).getJsonArray("changed"));
            assertEquals(0, entries(outbox), "the removed receiver's notifications are gone from the outbox");
            assertTrue(log.stream().anyMatch(l -> l.matches("receiver gone was removed from the config: [1-9]\\d* pending"
                    + " notification\\(s\\) for it dropped")), log.toString());
        } finally {
            serviceLog.removeHandler(capture);
        }
        String metrics = send(agent, "GET", "/metrics", null).body();
        assertFalse(metrics.contains("receiver=\"gone\""), metrics);
        assertTrue(metrics.contains("tcpulse_webhook_deliveries_total{receiver=\"kept\",outcome=\"delivered\"} "), metrics);
        assertTrue(gone.requests.isEmpty());
    }

    // ---- SIGHUP ----

    @Test
    void sighupReloadsTheFileAndAnInvalidOneChangesNothing() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        write(alerts(5, 100, ""));
        Path output = dir.resolve("agent.log");
        Process p = AgentProcessTest.agent(dir.resolve("state"), "--listen", "127.0.0.1:" + port, "--config", configFile.toString())
                .redirectOutput(output.toFile()).start();
        closing.add(() -> {
            p.destroy();
            if (!p.waitFor(15, TimeUnit.SECONDS)) p.destroyForcibly();
        });
        await(() -> status(port, "/api/v1/health") == 200, () -> "the agent never answered: " + read(output));
        long loaded = json(port, "/api/v1/health").getJsonObject("config").getLong("loadedMillis");

        write(alerts(9, 100, ""));
        hangUp(p);
        await(() -> minCount(port) == 9, () -> "SIGHUP did not reload: " + read(output));
        JsonObject config = json(port, "/api/v1/health").getJsonObject("config");
        assertTrue(config.getLong("loadedMillis") >= loaded);
        assertNull(config.getString("lastError"));

        Files.writeString(configFile, "{\"alerts\": {\"rules\": {\"closeWaitLeak\": {\"minCount\": 0}}}}");
        hangUp(p);
        await(() -> json(port, "/api/v1/health").getJsonObject("config").getString("lastError") != null,
                () -> "no lastError after an invalid file: " + read(output));
        assertEquals("config file " + configFile + ": line 1: alerts.rules.closeWaitLeak.minCount must be at least 1, got 0",
                json(port, "/api/v1/health").getJsonObject("config").getString("lastError"));
        assertEquals(9, minCount(port), "the invalid file changed nothing");
        assertTrue(p.isAlive(), "SIGHUP must not stop the agent");
        assertTrue(read(output).contains("reload refused, still running on the config loaded at "), read(output));
    }

    // ---- helpers ----

    /** closeWaitLeak alone among the verdict rules (100 ms old, for 0s), resetStorm at this threshold, every 200 ms. */
    private static String alerts(int minCount, double resetThreshold, String receivers) {
        return """
                {
                  "alerts": {
                    "evaluationInterval": "200ms",
                    "rules": {
                      "closeWaitLeak": {"for": "0s", "minAge": "100ms", "minCount": %d},
                      "resetStorm": {"threshold": %s},
                      "acceptQueueOverflow": {"enabled": false}, "acceptQueueFull": {"enabled": false},
                      "synFlood": {"enabled": false}, "synQueueDrops": {"enabled": false},
                      "timeWaitExhaustion": {"enabled": false}, "timeWaitOverflow": {"enabled": false},
                      "handshakeLatency": {"enabled": false}, "eventsLost": {"enabled": false},
                      "probeUnavailable": {"enabled": false}
                    },
                    "receivers": [%s],
                    "delivery": {"initialBackoff": "50ms", "maxBackoff": "500ms", "timeout": "2s"}
                  }
                }
                """.formatted(minCount, resetThreshold, receivers);
    }

    private static String receiver(String name, String url) {
        return "{\"name\": \"" + name + "\", \"url\": \"" + url + "\"}";
    }

    private void write(String json) throws IOException {
        if (configFile == null) configFile = dir.resolve("tcpulse.json");
        Files.writeString(configFile, json);
    }

    /** The agent on this config file: no probe, a walk every 300 ms, its state under dir/state. */
    private Main.Agent start(String json, String... flags) throws Exception {
        write(json);
        List<String> args = new ArrayList<>(List.of("--no-probe", "--walk-interval-ms", "300",
                "--state-dir", dir.resolve("state").toString(), "--config", configFile.toString()));
        args.addAll(List.of(flags));
        Main.Agent agent = Main.Agent.start(Config.parse(args.toArray(String[]::new)));
        closing.add(agent);
        return agent;
    }

    private TestReceiver receiverUp() throws IOException {
        TestReceiver r = new TestReceiver();
        closing.add(r);
        r.up();
        return r;
    }

    /**
     * n CLOSE_WAIT sockets held by a child process of their own (peers closed, it never
     * does) until closed: the test JVM itself may hold stray CLOSE_WAIT sockets (pooled
     * client connections of agents stopped earlier) that would keep its alert firing.
     */
    private AutoCloseable closeWaits(int n) throws IOException {
        Process holder = new ProcessBuilder("python3", "-c", """
                import socket, sys
                server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(50)
                held = []
                for _ in range(int(sys.argv[1])):
                    client = socket.create_connection(server.getsockname())
                    held.append(server.accept()[0]); client.close()
                print("ready", flush=True)
                sys.stdin.read()
                """, Integer.toString(n)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        AutoCloseable all = () -> {
            holder.getOutputStream().close(); // EOF: it exits, the kernel closes its sockets
            if (!holder.waitFor(10, TimeUnit.SECONDS)) holder.destroyForcibly().waitFor();
        };
        closing.add(all);
        String ready = new String(holder.getInputStream().readNBytes(6), StandardCharsets.US_ASCII);
        assertEquals("ready\n", ready, "the CLOSE_WAIT holder did not start");
        pid = Long.toString(holder.pid());
        return all;
    }

    private void awaitOwnCloseWaits(Main.Agent agent, int n) throws Exception {
        await(() -> getJson(agent, "/api/v1/closewait").getJsonArray("byOwner").stream().map(JsonObject.class::cast)
                        .anyMatch(o -> pid.equals(String.valueOf(o.getValue("pid"))) && o.getLong("count") >= n),
                () -> "the agent does not see this process's CLOSE_WAIT sockets: " + getJson(agent, "/api/v1/closewait"));
    }

    /** Alerts of this process among these. */
    private List<JsonObject> mine(JsonArray alerts) {
        return alerts.stream().map(JsonObject.class::cast)
                .filter(a -> pid.equals(a.getJsonObject("labels").getString("pid"))).toList();
    }

    /** Alertmanager payloads about this process with this status. */
    private List<JsonObject> ownNotifications(TestReceiver r, String status) {
        return ownRequests(r, status).stream().map(q -> new JsonObject(q.body())).toList();
    }

    private List<TestReceiver.Request> ownRequests(TestReceiver r, String status) {
        synchronized (r.requests) {
            return r.requests.stream().filter(q -> {
                JsonObject p = new JsonObject(q.body());
                JsonObject labels = p.getJsonArray("alerts").getJsonObject(0).getJsonObject("labels");
                return status.equals(p.getString("status")) && pid.equals(labels.getString("pid"))
                        && "closeWaitLeak".equals(labels.getString("alertname"));
            }).toList();
        }
    }

    private static JsonObject rule(JsonObject rules, String name) {
        return rules.getJsonArray("rules").stream().map(JsonObject.class::cast)
                .filter(r -> r.getString("name").equals(name)).findFirst().orElseThrow();
    }

    private static JsonObject alerts(Main.Agent agent) {
        return getJson(agent, "/api/v1/alerts");
    }

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static HttpResponse<String> send(Main.Agent agent, String method, String path, String token) throws Exception {
        return send(agent.port(), method, path, token);
    }

    private static HttpResponse<String> send(int port, String method, String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) b.header("Authorization", "Bearer " + token);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject getJson(Main.Agent agent, String path) {
        return json(agent.port(), path);
    }

    private static JsonObject json(int port, String path) {
        try {
            HttpResponse<String> r = send(port, "GET", path, null);
            if (r.statusCode() != 200) fail("GET " + path + " -> " + r.statusCode() + " " + r.body());
            return new JsonObject(r.body());
        } catch (Exception e) {
            throw new AssertionError("GET " + path + ": " + e, e);
        }
    }

    private static int status(int port, String path) {
        try {
            return send(port, "GET", path, null).statusCode();
        } catch (Exception notYet) {
            return -1;
        }
    }

    private static int minCount(int port) {
        return rule(json(port, "/api/v1/alerts/rules"), "closeWaitLeak").getJsonObject("settings").getInteger("minCount");
    }

    /** SIGHUP, as systemctl reload sends it. */
    private static void hangUp(Process p) throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).inheritIO().start();
        assertEquals(0, kill.waitFor());
    }

    private static long entries(Path dir) {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().matches("\\d{19}-.*\\.json")).count();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void writePrivate(Path file, String text) throws IOException {
        Files.writeString(file, text + "\n");
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** A self-signed certificate for 127.0.0.1 with subject CN=name: dir/cert.pem, dir/key.pem. */
    private static void pemPair(Path dir, String name) throws Exception {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "openssl: " + out);
    }

    /** A client of its own (a new connection, a new handshake) that trusts these certificates. */
    private static HttpClient trusting(Path... certs) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        for (int i = 0; i < certs.length; i++) {
            try (InputStream in = Files.newInputStream(certs[i])) {
                trust.setCertificateEntry("cert" + i, CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** The subject of the certificate the agent presents to a new connection. */
    private static String servedCert(HttpClient https, Main.Agent agent) throws Exception {
        HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + agent.port() + "/api/v1/health"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return ((X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }

    private static void await(Supplier<Boolean> done, Supplier<String> what) throws InterruptedException {
        Wait.until(Duration.ofSeconds(30), Duration.ofMillis(50), () -> {
            try {
                return done.get();
            } catch (AssertionError | RuntimeException notYet) {
                return false; // e.g. the agent is not answering yet
            }
        }, () -> "timed out: " + what.get());
    }
}
