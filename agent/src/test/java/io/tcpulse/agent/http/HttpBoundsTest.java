package io.tcpulse.agent.http;

import io.tcpulse.agent.config.Limits;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 11: connections per client address and event streams are capped, and each refusal counted. */
class HttpBoundsTest {
    private Vertx vertx;
    private int port;
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        ApiServer server = new ApiServer(new TestSnapshots.FakeSource(TestSnapshots.sample()), "127.0.0.1", 0)
                .security(HttpSecurity.loopbackDefaults("127.0.0.1", 0).withLimits(new Limits(500, 500, 4, 2)));
        vertx.deployVerticle(server).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        port = server.actualPort();
    }

    @AfterEach
    void stop() throws Exception {
        for (Socket s : sockets) s.close();
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private Socket connect(String from) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        s.setSoTimeout(5000);
        sockets.add(s);
        return s;
    }

    /** One request on a fresh connection from address from; the whole answer (Connection: close). */
    private String request(String from, String path) throws IOException {
        Socket s = connect(from);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** The head and the first bytes of a streaming answer. */
    private String head(Socket s, String path) throws IOException {
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        byte[] buf = new byte[4096];
        int n = s.getInputStream().read(buf);
        return new String(buf, 0, Math.max(0, n), StandardCharsets.UTF_8);
    }

    private static void await(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (done.getAsBoolean()) return;
            Thread.sleep(20);
        }
        fail("timed out: " + what);
    }

    private JsonObject http() {
        try {
            String r = request("127.0.0.3", "/api/v1/health");
            return new JsonObject(r.substring(r.indexOf("\r\n\r\n") + 4)).getJsonObject("http");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void oneAddressHoldsAtMostItsShareAndOthersStillGetIn() throws Exception {
        for (int i = 0; i < 4; i++) connect("127.0.0.1"); // idle, heads never sent
        await(() -> http().getInteger("connections") == 5, "4 idle and the monitor's");
        Socket fifth = connect("127.0.0.1");
        InputStream in = fifth.getInputStream();
        assertEquals(-1, in.read(), "closed at once: its address holds limits.perClientConnections");
        assertEquals(1, http().getLong("perClientRefused"));
        // another address is answered meanwhile
        String ok = request("127.0.0.2", "/api/v1/health");
        assertTrue(ok.startsWith("HTTP/1.1 200"), ok);
        String metrics = request("127.0.0.2", "/metrics");
        assertTrue(metrics.contains("tcpulse_http_rejected_total{reason=\"per_client\"} 1\n"), metrics);
        assertTrue(metrics.contains("tcpulse_http_rejected_total{reason=\"streams\"} 0\n"), metrics);
    }

    @Test
    void eventStreamsPastTheCapGet503WithRetryAfter() throws Exception {
        assertTrue(head(connect("127.0.0.1"), "/api/v1/stream").startsWith("HTTP/1.1 200"));
        assertTrue(head(connect("127.0.0.2"), "/api/v1/stream").startsWith("HTTP/1.1 200"));
        String third = request("127.0.0.3", "/api/v1/stream");
        assertTrue(third.startsWith("HTTP/1.1 503"), third);
        assertTrue(third.toLowerCase().contains("\r\nretry-after: 10\r\n"), third);
        assertTrue(third.contains("limits.maxStreams"), third);
        assertEquals(1, http().getLong("streamsRefused"));
    }
}
