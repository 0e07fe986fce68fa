package io.tcpulse.agent.http;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The HTTP side against hostile or careless clients: a token off loopback, oversize and
 * malformed requests, a client that floods, foreign origins. After each, the agent serves.
 */
class HttpSecurityTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;
    private Vertx vertx;
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);

    @BeforeEach
    void vertx() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** Deploys an ApiServer with these settings on host, port 0; returns the port. */
    private int start(HttpSecurity security, ApiServer server) throws Exception {
        vertx.deployVerticle(server.security(security)).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return server.actualPort();
    }

    private int start(HttpSecurity security) throws Exception {
        return start(security, new ApiServer(new TestSnapshots.FakeSource(TestSnapshots.sample()), "unused", 0));
    }

    private HttpSecurity security(String host, String tokenFile, int rps, List<String> cors) throws Config.ConfigException {
        return HttpSecurity.create(host, 0, tokenFile, null, null, 64 * 1024, rps, cors, clock::get);
    }

    private Path tokenFile(String token) throws IOException {
        Path f = dir.resolve("token");
        Files.writeString(f, token + "\n");
        Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    // ---- token off loopback ----

    @Test
    void aNonLoopbackAddressWithoutATokenRefusesToStart() {
        Config.ConfigException e = assertThrows(Config.ConfigException.class,
                () -> Main.Agent.start(Config.parse(new String[] {"--listen", "0.0.0.0:0", "--no-probe"})));
        assertTrue(e.getMessage().contains("listen address 0.0.0.0:0 is not a loopback address"), e.getMessage());
        assertTrue(e.getMessage().contains("--token-file"), e.getMessage());
        assertTrue(e.getMessage().contains("http.tokenFile"), e.getMessage());
    }

    @Test
    void loopbackNamesNeedNoToken() throws Exception {
        for (String host : List.of("127.0.0.1", "localhost", "::1", "127.0.0.2")) {
            assertFalse(security(host, null, 0, List.of()).tokenRequired(), host);
        }
        for (String host : List.of("0.0.0.0", "::")) {
            assertThrows(Config.ConfigException.class, () -> security(host, null, 0, List.of()), host);
        }
    }

    @Test
    void onAllAddressesEveryRouteWantsTheBearerToken() throws Exception {
        int port = start(security("0.0.0.0", tokenFile(TOKEN).toString(), 0, List.of()));
        for (String path : List.of("/api/v1/health", "/api/v1/states", "/metrics", "/", "/api/v1/stream", "/nope")) {
            HttpResponse<String> r = get(port, path, Map.of());
            assertEquals(401, r.statusCode(), path);
            JsonObject body = new JsonObject(r.body());
            assertEquals("unauthorized", body.getString("error"));
            assertTrue(body.getString("detail").contains("Authorization: Bearer"), body.encode());
            assertEquals("Bearer realm=\"tcpulse\"", r.headers().firstValue("WWW-Authenticate").orElse(null));
        }
        assertEquals(401, get(port, "/api/v1/health", Map.of("Authorization", "Bearer " + TOKEN + "x")).statusCode());
        assertEquals(401, get(port, "/api/v1/health", Map.of("Authorization", "Basic " + TOKEN)).statusCode());
        assertEquals(401, get(port, "/api/v1/health", Map.of("Authorization", "Bearer")).statusCode());
        HttpResponse<String> ok = get(port, "/api/v1/health", Map.of("Authorization", "Bearer " + TOKEN));
        assertEquals(200, ok.statusCode());
        assertEquals("ok", new JsonObject(ok.body()).getString("status"));
        assertEquals(200, get(port, "/metrics", Map.of("Authorization", "bearer " + TOKEN)).statusCode());
    }

    @Test
    void tokenFileRulesAreExplained() throws Exception {
        Config.ConfigException missing = assertThrows(Config.ConfigException.class,
                () -> security("0.0.0.0", dir.resolve("absent").toString(), 0, List.of()));
        assertTrue(missing.getMessage().startsWith("http.tokenFile " + dir.resolve("absent") + " cannot be read"),
                missing.getMessage());
        Config.ConfigException shortOne = assertThrows(Config.ConfigException.class,
                () -> security("0.0.0.0", tokenFile("secret").toString(), 0, List.of()));
        assertTrue(shortOne.getMessage().contains("at least 16 characters, got 6"), shortOne.getMessage());
        Config.ConfigException spaces = assertThrows(Config.ConfigException.class,
                () -> security("0.0.0.0", tokenFile("two words but long enough").toString(), 0, List.of()));
        assertTrue(spaces.getMessage().contains("may hold only"), spaces.getMessage());
    }

    // ---- reload ----

    @Test
    void reloadIsAPostThatNeedsTheTokenAndRunsTheHook() throws Exception {
        AtomicInteger reloads = new AtomicInteger();
        ApiServer server = new ApiServer(new TestSnapshots.FakeSource(TestSnapshots.sample()), "unused", 0);
        server.setReloadHook(() -> new JsonObject().put("reloads", reloads.incrementAndGet()));
        int port = start(security("0.0.0.0", tokenFile(TOKEN).toString(), 0, List.of()), server);
        assertEquals(401, post(port, "/api/v1/reload", Map.of()).statusCode());
        assertEquals(0, reloads.get());
        HttpResponse<String> r = post(port, "/api/v1/reload", Map.of("Authorization", "Bearer " + TOKEN));
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(new JsonObject().put("reloaded", true).put("reloads", 1), new JsonObject(r.body()));
        assertEquals(1, reloads.get());
        // a page elsewhere cannot make a browser post here, even with a token it somehow has
        HttpResponse<String> csrf = post(port, "/api/v1/reload",
                Map.of("Authorization", "Bearer " + TOKEN, "Origin", "https://evil.example"));
        assertEquals(403, csrf.statusCode(), csrf.body());
        assertEquals(1, reloads.get());
        // no other method changes anything
        assertEquals(405, send(port, "DELETE", "/api/v1/health", Map.of("Authorization", "Bearer " + TOKEN)).statusCode());
        assertEquals(405, post(port, "/api/v1/states", Map.of("Authorization", "Bearer " + TOKEN)).statusCode());
    }

    // ---- oversize and malformed requests ----

    @Test
    void oversizeAndMalformedRequestsGet4xxAndTheAgentStillServes() throws Exception {
        int port = start(security("127.0.0.1", null, 0, List.of()));

        String hugeHeader = "X-Filler: " + "a".repeat(HttpSecurity.MAX_HEADER_BYTES + 100) + "\r\n";
        assertStatus(431, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + hugeHeader + "\r\n"));
        assertHealthy(port);

        String longUri = "/api/v1/events?peer=" + "1".repeat(HttpSecurity.MAX_INITIAL_LINE + 100);
        assertStatus(414, raw(port, "GET " + longUri + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        assertHealthy(port);

        assertStatus(400, raw(port, "\u0001\u0002garbage that is no request line\r\n\r\n"));
        assertStatus(400, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n"));
        assertHealthy(port);

        assertStatus(413, raw(port, "POST /api/v1/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\n"));
        assertStatus(400, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n"));
        assertHealthy(port);

        for (String bad : List.of("/api/v1/states?netns=abc", "/api/v1/events?limit=-1", "/api/v1/events?state=NOPE",
                "/api/v1/events?port=70000")) {
            HttpResponse<String> r = get(port, bad, Map.of());
            assertEquals(400, r.statusCode(), bad + " -> " + r.body());
            assertTrue(new JsonObject(r.body()).containsKey("detail"), r.body());
        }
        // a broken percent escape, which well-behaved clients refuse to send
        Raw escape = raw(port, "GET /api/v1/states?netns=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assertEquals(400, escape.status, escape.text);
        assertHealthy(port);

        // a client that connects and says nothing is dropped only by the idle timeout: others still served
        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
            assertHealthy(port);
        }
    }

    // ---- rate limit ----

    @Test
    void aClientOverItsRateGets429UntilTheBucketRefills() throws Exception {
        int port = start(security("127.0.0.1", null, 3, List.of()));
        for (int i = 0; i < 3; i++) assertEquals(200, get(port, "/api/v1/health", Map.of()).statusCode());
        HttpResponse<String> limited = get(port, "/api/v1/health", Map.of());
        assertEquals(429, limited.statusCode());
        assertEquals("too many requests", new JsonObject(limited.body()).getString("error"));
        assertTrue(new JsonObject(limited.body()).getString("detail").contains("http.requestsPerSecond"));
        assertEquals("1", limited.headers().firstValue("Retry-After").orElse(null));
        clock.addAndGet(1_000_000_000L / 3 + 1); // one token back
        assertEquals(200, get(port, "/api/v1/health", Map.of()).statusCode());
        assertEquals(429, get(port, "/api/v1/health", Map.of()).statusCode());
        clock.addAndGet(5_000_000_000L); // full again, and never more than full
        for (int i = 0; i < 3; i++) assertEquals(200, get(port, "/api/v1/health", Map.of()).statusCode());
        assertEquals(429, get(port, "/api/v1/health", Map.of()).statusCode());
    }

    @Test
    void idleClientBucketsAreForgotten() {
        HttpSecurity.RateLimiter limiter = new HttpSecurity.RateLimiter(10, clock::get);
        for (int i = 0; i < HttpSecurity.MAX_TRACKED_CLIENTS; i++) assertTrue(limiter.tryAcquire("10.0.0." + i));
        clock.addAndGet(2_000_000_000L);
        assertTrue(limiter.tryAcquire("192.0.2.1"));
        assertEquals(1, limiter.tracked());
    }

    // ---- CORS and Host ----

    @Test
    void corsIsClosedByDefault() throws Exception {
        int port = start(security("127.0.0.1", null, 0, List.of()));
        HttpResponse<String> r = get(port, "/api/v1/health", Map.of("Origin", "https://grafana.example.com"));
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().map().keySet().stream().noneMatch(h -> h.toLowerCase().startsWith("access-control-")),
                r.headers().map().toString());
        HttpResponse<String> preflight = send(port, "OPTIONS", "/api/v1/health",
                Map.of("Origin", "https://grafana.example.com", "Access-Control-Request-Method", "GET"));
        assertTrue(preflight.statusCode() >= 400, "preflight " + preflight.statusCode());
        assertTrue(preflight.headers().firstValue("Access-Control-Allow-Origin").isEmpty());
    }

    @Test
    void corsOpensOnlyForListedOrigins() throws Exception {
        int port = start(HttpSecurity.create("0.0.0.0", 0, tokenFile(TOKEN).toString(), null, null, 65536, 0,
                List.of("https://grafana.example.com"), clock::get));
        HttpResponse<String> preflight = send(port, "OPTIONS", "/api/v1/health", Map.of(
                "Origin", "https://grafana.example.com", "Access-Control-Request-Method", "GET",
                "Access-Control-Request-Headers", "authorization"));
        assertEquals(204, preflight.statusCode());
        assertEquals("https://grafana.example.com", preflight.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
        assertTrue(preflight.headers().firstValue("Access-Control-Allow-Headers").orElse("").contains("Authorization"));
        HttpResponse<String> r = get(port, "/api/v1/health",
                Map.of("Origin", "https://grafana.example.com", "Authorization", "Bearer " + TOKEN));
        assertEquals(200, r.statusCode());
        assertEquals("https://grafana.example.com", r.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
        HttpResponse<String> other = get(port, "/api/v1/health",
                Map.of("Origin", "https://evil.example", "Authorization", "Bearer " + TOKEN));
        assertTrue(other.headers().firstValue("Access-Control-Allow-Origin").isEmpty());
        assertThrows(Config.ConfigException.class, () -> security("127.0.0.1", null, 0, List.of("*")));
        assertThrows(Config.ConfigException.class, () -> security("127.0.0.1", null, 0, List.of("https://a.example/path")));
    }

    @Test
    void onLoopbackOnlyLocalHostNamesAreAnswered() throws Exception {
        int port = start(security("127.0.0.1", null, 0, List.of()));
        assertEquals(200, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: localhost:" + port + "\r\n\r\n").status);
        assertEquals(200, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: [::1]:" + port + "\r\n\r\n").status);
        Raw rebound = raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: attacker.example:" + port + "\r\n\r\n");
        assertEquals(403, rebound.status);
        assertTrue(rebound.text.contains("is not a local name"), rebound.text);
    }

    // ---- TLS ----

    @Test
    void tlsWithAPemPair() throws Exception {
        Path cert = dir.resolve("cert.pem"), key = dir.resolve("key.pem");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", key.toString(), "-out", cert.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "openssl: " + out);
        int port = start(HttpSecurity.create("127.0.0.1", 0, tokenFile(TOKEN).toString(), cert.toString(), key.toString(),
                65536, 0, List.of(), clock::get));

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(cert)) {
            trust.setCertificateEntry("agent", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        HttpClient https = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/api/v1/health"))
                .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        // plain HTTP on the TLS port gets nothing useful
        assertNotEquals(200, raw(port, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status);

        Config.ConfigException half = assertThrows(Config.ConfigException.class, () -> HttpSecurity.create(
                "127.0.0.1", 0, null, cert.toString(), null, 65536, 0, List.of(), clock::get));
        assertTrue(half.getMessage().contains("go together"), half.getMessage());
    }

    // ---- helpers ----

    private static void assertHealthy(int port) throws Exception {
        assertEquals(200, get(port, "/api/v1/health", Map.of()).statusCode(), "the agent stopped serving");
    }

    private static HttpResponse<String> get(int port, String path, Map<String, String> headers) throws Exception {
        return send(port, "GET", path, headers);
    }

    private static HttpResponse<String> post(int port, String path, Map<String, String> headers) throws Exception {
        return send(port, "POST", path, headers);
    }

    private static HttpResponse<String> send(int port, String method, String path, Map<String, String> headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody());
        headers.forEach(b::header);
        HttpResponse<java.io.InputStream> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        // an SSE stream never ends: read what is there for an error, else stop
        String body = r.statusCode() == 200 && path.contains("stream") ? "" : new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        r.body().close();
        return new HttpResponse<>() {
            public int statusCode() { return r.statusCode(); }
            public HttpRequest request() { return r.request(); }
            public java.util.Optional<HttpResponse<String>> previousResponse() { return java.util.Optional.empty(); }
            public java.net.http.HttpHeaders headers() { return r.headers(); }
            public String body() { return body; }
            public java.util.Optional<javax.net.ssl.SSLSession> sslSession() { return r.sslSession(); }
            public URI uri() { return r.uri(); }
            public HttpClient.Version version() { return r.version(); }
        };
    }

    record Raw(int status, String text) {}

    /** Writes bytes on a fresh connection and reads the reply until the server closes or 5 s pass. */
    private static Raw raw(int port, String request) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            byte[] buf = new byte[8192];
            StringBuilder text = new StringBuilder();
            InputStream in = s.getInputStream();
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    text.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                    if (text.indexOf("\r\n\r\n") >= 0 && complete(text)) break;
                }
            } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
                // the server may reset after an error reply
            }
            String t = text.toString();
            int status = t.startsWith("HTTP/1.") && t.length() >= 12 ? Integer.parseInt(t.substring(9, 12)) : -1;
            return new Raw(status, t);
        }
    }

    /** Headers and, when there is a Content-Length, the whole body are in. */
    private static boolean complete(StringBuilder text) {
        int end = text.indexOf("\r\n\r\n");
        String head = text.substring(0, end).toLowerCase();
        int at = head.indexOf("content-length:");
        if (at < 0) return true;
        int eol = head.indexOf("\r\n", at);
        long length = Long.parseLong(head.substring(at + 15, eol < 0 ? head.length() : eol).strip());
        return text.length() - end - 4 >= length;
    }

    private static void assertStatus(int expected, Raw r) {
        assertEquals(expected, r.status, "reply was:\n" + r.text);
    }
}
