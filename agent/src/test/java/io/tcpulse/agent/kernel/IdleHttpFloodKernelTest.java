package io.tcpulse.agent.kernel;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 11: 900 idle HTTP connections from one address that never finish their request
 * head. The agent answers a well-behaved client on another address at once, sheds the
 * flood (per-address cap, head deadline), counts it, and the probe keeps collecting.
 */
@KernelTest
class IdleHttpFloodKernelTest {
    static final int FLOOD = 900;
    static final int PER_CLIENT = 64; // limits.perClientConnections by default
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final byte[] HALF_A_REQUEST = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII);

    /** GET path from 127.0.0.2 on a fresh connection: status line and milliseconds taken. */
    static String wellBehaved(int port, String path, long[] millis) throws Exception {
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            millis[0] = (System.nanoTime() - t0) / 1_000_000;
            return answer.lines().findFirst().orElse("");
        }
    }

    @Test
    void nineHundredIdleConnectionsAreShedAndAWellBehavedClientIsAnswered() throws Exception {
        requireRootAndBpf();
        Path dir = Files.createTempDirectory("tcpulse-idlehttp-");
        Process child = null;
        try (Netns ns = Netns.create()) {
            List<String> cmd = new ArrayList<>(StopDuringStormKernelTest.javaAgent(dir, "--listen", "127.0.0.1:0",
                    "--requests-per-second", "0", "--walk-interval-ms", "500"));
            child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            ChildOutput out = ChildOutput.follow(child, "idlehttp-agent");
            int port = out.port();
            long inode = ns.inode();
            try (FdFloodKernelTest.Monitor monitor = new FdFloodKernelTest.Monitor(port);
                 FdFloodKernelTest.Flood flood = FdFloodKernelTest.Flood.open(port, FLOOD, HALF_A_REQUEST)) {
                Map<String, Long> expected = clientCloseRound(ns, 8301, 300);
                await(WAIT, flood::done, () -> flood.connected() + " of " + FLOOD + " connected");
                JsonObject http = monitor.json("/api/v1/health").getJsonObject("http");
                assertTrue(http.getInteger("connections") <= PER_CLIENT + 1, http.encode());
                long[] millis = {0};
                assertEquals("HTTP/1.1 200 OK", wellBehaved(port, "/api/v1/health", millis));
                assertTrue(millis[0] < 2_000, "answered in " + millis[0] + " ms");
                // the probe keeps collecting meanwhile: exact counts
                await(WAIT, () -> expected.equals(monitor.transitions(inode)),
                        () -> "transitions: expected " + expected + " got " + monitor.transitions(inode));
                // every flood connection is held, or was shed by the per-address cap or the head deadline
                await(WAIT, () -> {
                    JsonObject h = monitor.json("/api/v1/health").getJsonObject("http");
                    return h.getLong("perClientRefused") + h.getLong("headerTimeouts") + h.getLong("refused")
                            + (h.getInteger("connections") - 1) == FLOOD;
                }, () -> "unaccounted: " + monitor.json("/api/v1/health").getJsonObject("http") + ", " + flood.connected());
                http = monitor.json("/api/v1/health").getJsonObject("http");
                assertTrue(http.getLong("perClientRefused") >= FLOOD - PER_CLIENT - http.getLong("headerTimeouts"), http.encode());
                String metrics = monitor.text("/metrics");
                assertTrue(metrics.contains("tcpulse_http_rejected_total{reason=\"per_client\"} " + http.getLong("perClientRefused") + "\n"),
                        metrics.lines().filter(l -> l.startsWith("tcpulse_http")).toList().toString());
                JsonObject h = monitor.json("/api/v1/health");
                assertEquals("ok", h.getString("status"), h.encode());
            }
            assertTrue(child.isAlive(), out.log().toString());
        } finally {
            if (child != null) {
                child.destroy();
                if (!child.waitFor(20, TimeUnit.SECONDS)) child.destroyForcibly();
            }
            try (var all = Files.walk(dir)) {
                all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
