package io.tcpulse.agent.kernel;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 11: an agent restarted with 200,000 notifications pending for a receiver that is
 * down comes up under -Xmx256m: the outbox is read lazily and cut to its bound
 * (alerts.delivery.maxPending, 10,000 by default), the rest counted as dropped.
 */
@KernelTest
class OutboxRestartKernelTest {
    static final int FILES = 200_000;
    static final int BOUND = 10_000;

    @Test
    void twoHundredThousandPendingFilesUnderA256MiBHeap() throws Exception {
        Path dir = Files.createTempDirectory("tcpulse-outbox-");
        Process child = null;
        try {
            Path box = Files.createDirectories(dir.resolve("state/outbox/am"));
            String body = "{\"status\":\"firing\",\"alerts\":[" + "{\"labels\":{\"alertname\":\"acceptQueueOverflow\"}},".repeat(4)
                    + "{}]}";
            String created = Instant.now().toString();
            for (int seq = 1; seq <= FILES; seq++) {
                String id = UUID.randomUUID().toString();
                Files.writeString(box.resolve(String.format("%019d-%s.%s.json", seq, id, seq % 2 == 0 ? "r" : "f")),
                        new JsonObject().put("id", id).put("receiver", "am").put("attempts", 0).put("createdAt", created)
                                .put("body", body).encode(), StandardCharsets.UTF_8);
            }
            Path config = dir.resolve("tcpulse.json");
            // port 9 (discard) has no listener here: every attempt is refused
            Files.writeString(config, "{\"alerts\": {\"receivers\": [{\"name\": \"am\", \"url\": \"http://127.0.0.1:9/\"}]}}");
            List<String> cmd = new ArrayList<>(StopDuringStormKernelTest.javaAgent(dir, "--listen", "127.0.0.1:0",
                    "--no-probe", "--requests-per-second", "0", "--config", config.toString()));
            cmd.add(1, "-Xmx256m");
            child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            ChildOutput out = ChildOutput.follow(child, "outbox-restart-agent");
            int port = out.port();
            await(Duration.ofSeconds(120), () -> metric(port, "tcpulse_webhook_dropped_total{receiver=\"am\",reason=\"full\"}")
                    == FILES - BOUND, () -> "not cut to the bound: " + metricLines(port) + "\n" + out.log());
            assertEquals(BOUND, metric(port, "tcpulse_webhook_pending{receiver=\"am\"}"));
            // the surplus is deleted in the background (a busy disk unlinks about 1,000 a second here)
            // (listing the directory competes with the unlinks for its lock: look every 2 s only)
            long deadline = System.nanoTime() + Duration.ofSeconds(600).toNanos();
            while (count(box) != BOUND && System.nanoTime() < deadline) Thread.sleep(2000);
            assertEquals(BOUND, count(box), "files left in the outbox");
            // the resolved ones went first: what is left is the newest firing ones
            try (Stream<Path> files = Files.list(box)) {
                assertEquals(BOUND, files.filter(f -> f.getFileName().toString().endsWith(".f.json")).count());
            }
            assertTrue(child.isAlive(), out.log().toString());
            assertEquals(200, get(port, "/api/v1/health").statusCode());
        } finally {
            if (child != null) {
                child.destroy();
                if (!child.waitFor(20, TimeUnit.SECONDS)) child.destroyForcibly();
            }
            try (Stream<Path> all = Files.walk(dir)) {
                all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static long count(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long metric(int port, String series) {
        try {
            for (String line : get(port, "/metrics").body().split("\n")) {
                if (line.startsWith(series + " ")) return Long.parseLong(line.substring(series.length() + 1));
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    private static String metricLines(int port) {
        try {
            return get(port, "/metrics").body().lines().filter(l -> l.startsWith("tcpulse_webhook")).toList().toString();
        } catch (Exception e) {
            return e.toString();
        }
    }
}
