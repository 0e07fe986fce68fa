package io.tcpulse.agent.http;

import io.tcpulse.agent.testing.Wait;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The HTTP side's share of descriptors: a cap on connections, and a deadline for the request head. */
class ConnectionGuardTest {
    private Vertx vertx;
    private int port;

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        HttpSecurity security = HttpSecurity.create("127.0.0.1", 0, null, null, null, 64 * 1024, 0, List.of(), System::nanoTime)
                .withMaxConnections(3);
        ApiServer server = new ApiServer(new TestSnapshots.FakeSource(TestSnapshots.sample()), "127.0.0.1", 0).security(security);
        vertx.deployVerticle(server).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        port = server.actualPort();
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void overTheCapAConnectionIsClosedAsSoonAsItIsAccepted() throws Exception {
        try (Socket a = connect(); Socket b = connect(); Socket c = connect()) {
            JsonObject http = health(a).getJsonObject("http");
            assertEquals(3, http.getInteger("maxConnections"));
            awaitConnections(a, 3);
            try (Socket d = connect()) {
                d.setSoTimeout(10_000);
                assertEquals(-1, d.getInputStream().read(), "the fourth connection is closed at once");
            }
            assertEquals(1, health(a).getJsonObject("http").getLong("refused"));
            c.close();
            awaitConnections(a, 2);
            try (Socket e = connect()) {
                assertEquals(200, status(request(e, "/api/v1/health")), "room again");
            }
            assertTrue(b.isConnected());
        }
    }

    @Test
    void aClientThatSendsNoRequestHeadIsClosedAfterTenSeconds() throws Exception {
        try (Socket served = connect(); Socket silent = connect()) {
            assertEquals(200, status(request(served, "/api/v1/health")));
            silent.getOutputStream().write("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
            silent.setSoTimeout(30_000);
            long started = System.nanoTime();
            try {
                assertEquals(-1, silent.getInputStream().read(), "closed without an answer");
            } catch (SocketTimeoutException e) {
                fail("a client with half a request head was not closed within 30 s");
            }
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(tookMs >= ConnectionGuard.HEADER_TIMEOUT_SECONDS * 1000L - 1000, "closed after " + tookMs + " ms");
            // a connection that sent its request is governed by the idle timeout: still open
            JsonObject http = health(served).getJsonObject("http");
            assertEquals(1, http.getLong("headerTimeouts"), http.encode());
            assertEquals(0, http.getLong("refused"));
        }
        String metrics;
        try (Socket m = connect()) {
            metrics = new String(request(m, "/metrics"), StandardCharsets.UTF_8);
        }
        assertTrue(metrics.contains("\ntcpulse_http_connections_closed_total{reason=\"header_timeout\"} 1\n"), metrics);
        assertTrue(metrics.contains("\ntcpulse_http_connections_max 3\n"), metrics);
    }

    // ---- a raw HTTP/1.1 client: the connections themselves are what is tested ----

    private Socket connect() throws IOException {
        return new Socket(InetAddress.getLoopbackAddress(), port);
    }

    private void awaitConnections(Socket via, int n) throws Exception {
        Wait.until(Duration.ofSeconds(10), Duration.ofMillis(50), () -> health(via).getJsonObject("http").getInteger("connections"),
                open -> open == n, open -> open + " connections open, expected " + n);
    }

    private static JsonObject health(Socket s) throws IOException {
        return new JsonObject(new String(body(request(s, "/api/v1/health")), StandardCharsets.UTF_8));
    }

    /** The whole response (head and body) of one request on s, kept open. */
    private static byte[] request(Socket s, String path) throws IOException {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) throw new IOException("closed mid-answer: " + head);
            head.write(c);
        }
        int length = 0;
        for (String h : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
            if (h.regionMatches(true, 0, "content-length:", 0, 15)) length = Integer.parseInt(h.substring(15).trim());
        }
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(head.toByteArray());
        all.writeBytes(in.readNBytes(length));
        return all.toByteArray();
    }

    private static int status(byte[] response) {
        return Integer.parseInt(new String(response, 0, 12, StandardCharsets.US_ASCII).substring(9, 12));
    }

    private static byte[] body(byte[] response) {
        String s = new String(response, StandardCharsets.ISO_8859_1);
        int at = s.indexOf("\r\n\r\n") + 4;
        return java.util.Arrays.copyOfRange(response, at, response.length);
    }
}
