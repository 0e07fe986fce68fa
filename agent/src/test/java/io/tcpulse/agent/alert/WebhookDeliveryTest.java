package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The outbox and its delivery against a real HTTP receiver that goes down and comes back,
 * with the agent's alerting restarted in between: nothing lost, each idempotency key
 * delivered once.
 */
class WebhookDeliveryTest {
    private static final String SECRET = "s3cret-for-tests";

    @TempDir Path stateDir;
    private final Clock clock = new Clock();
    private final Source source = new Source();
    private final List<AlertService> services = new ArrayList<>();
    private TestReceiver receiver;

    @AfterEach
    void tearDown() {
        services.forEach(AlertService::close);
        if (receiver != null) receiver.close();
    }

    /** Overflow rule only, for 0s, window 10s; one signed Alertmanager receiver; fast retries. */
    private AlertsConfig config(String extraReceiverJson, int clientErrorAttempts) throws Config.ConfigException {
        return config(extraReceiverJson, clientErrorAttempts, "");
    }

    private AlertsConfig config(String extraReceiverJson, int clientErrorAttempts, String extraDelivery) throws Config.ConfigException {
        return Config.fromJson("""
                {"alerts": {
                  "evaluationInterval": "5s",
                  "rules": {
                    "acceptQueueOverflow": {"for": "0s", "window": "10s"},
                    "acceptQueueFull": {"enabled": false}, "synFlood": {"enabled": false},
                    "synQueueDrops": {"enabled": false}, "timeWaitExhaustion": {"enabled": false},
                    "timeWaitOverflow": {"enabled": false}, "closeWaitLeak": {"enabled": false},
                    "resetStorm": {"enabled": false}, "handshakeLatency": {"enabled": false},
                    "eventsLost": {"enabled": false}, "probeUnavailable": {"enabled": false}
                  },
                  "receivers": [{"name": "am", "url": "%s", "secret": "%s"}%s],
                  "delivery": {"initialBackoff": "20ms", "maxBackoff": "200ms", "timeout": "2s",
                               "clientErrorAttempts": %d%s}
                }}""".formatted(receiver.url(), SECRET, extraReceiverJson, clientErrorAttempts, extraDelivery)).alerts();
    }

    private AlertService service(AlertsConfig config) throws Exception {
        AlertService s = AlertService.create(config, source, stateDir, clock, Map.of("host", "web-1"));
        services.add(s);
        s.startDelivery("http://web-1:9470/");
        return s;
    }

    /** Listeners on these ports with these overflow counts, then one evaluation 5 s later. */
    private void evaluate(AlertService s, Map<Integer, Long> overflows) {
        ListenerStatus[] ls = overflows.entrySet().stream()
                .map(e -> listener(e.getKey(), e.getValue(), "ok")).toArray(ListenerStatus[]::new);
        source.snapshot = Parts.empty().listeners(ls).snapshot();
        clock.advance(Duration.ofSeconds(5));
        s.evaluateOnce();
    }

    private static Map<Integer, Long> ports(Object... portThenCount) {
        Map<Integer, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < portThenCount.length; i += 2) m.put((Integer) portThenCount[i], ((Number) portThenCount[i + 1]).longValue());
        return m;
    }

    @Test
    void receiverDownForAWhileThenUpGetsEveryNotificationExactlyOnce() throws Exception {
        receiver = new TestReceiver(); // not up yet: connection refused
        AlertService s = service(config("", 3));
        // five listeners overflow (5 firing), then stop (5 resolved): 10 notifications while the receiver is down
        evaluate(s, ports(8001, 0, 8002, 0, 8003, 0, 8004, 0, 8005, 0));
        evaluate(s, ports(8001, 10, 8002, 10, 8003, 10, 8004, 10, 8005, 10));
        for (int i = 0; i < 3; i++) evaluate(s, ports(8001, 10, 8002, 10, 8003, 10, 8004, 10, 8005, 10));
        assertEquals(5, s.engine().view().recent().size());
        Thread.sleep(400); // retries against a closed port
        assertEquals(10, s.delivery().pending().get("am"));
        try (Stream<Path> files = Files.list(stateDir.resolve("outbox/am"))) {
            assertEquals(10, files.count(), "every notification is on disk while the receiver is down");
        }
        // up, but answering 503 for a while
        AtomicInteger calls = new AtomicInteger();
        receiver.status = () -> calls.incrementAndGet() <= 4 ? 503 : 200;
        receiver.up();
        await(() -> s.delivery().counts().get("am").get("delivered") >= 10, () -> "delivered " + receiver.delivered().size());
        Thread.sleep(300); // nothing more arrives

        List<TestReceiver.Request> got = receiver.delivered();
        assertEquals(10, got.size());
        assertEquals(10, got.stream().map(TestReceiver.Request::idempotencyKey).distinct().count(),
                "each idempotency key exactly once");
        Map<String, List<String>> statusesByFingerprint = new LinkedHashMap<>();
        for (TestReceiver.Request r : got) {
            assertEquals(WebhookDelivery.signature(SECRET, r.body().getBytes(StandardCharsets.UTF_8)), r.signature());
            assertTrue(r.signature().matches("sha256=[0-9a-f]{64}"), r.signature());
            assertEquals("application/json", r.contentType());
            JsonObject p = new JsonObject(r.body());
            assertEquals(r.idempotencyKey(), p.getString("idempotencyKey"));
            assertEquals("4", p.getString("version"));
            JsonObject alert = p.getJsonArray("alerts").getJsonObject(0);
            statusesByFingerprint.computeIfAbsent(alert.getString("fingerprint"), k -> new ArrayList<>()).add(p.getString("status"));
        }
        assertEquals(5, statusesByFingerprint.size());
        statusesByFingerprint.values().forEach(v -> assertEquals(List.of("firing", "resolved"), v, "in order per alert"));
        Map<String, Long> counts = s.delivery().counts().get("am");
        assertEquals(10, counts.get("delivered"));
        assertTrue(counts.get("failed") >= 5, counts.toString()); // refused connections, then four 503s
        assertEquals(0, counts.get("dropped"));
        assertEquals(0, s.delivery().pending().get("am"));
        try (Stream<Path> files = Files.list(stateDir.resolve("outbox/am"))) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void agentRestartedWhileTheReceiverIsDownLosesNothingAndDoesNotReannounce() throws Exception {
        receiver = new TestReceiver(); // down
        AlertService first = service(config("", 3));
        evaluate(first, ports(8001, 0, 8002, 0, 8003, 0));
        evaluate(first, ports(8001, 5, 8002, 5, 8003, 5)); // three fire
        evaluate(first, ports(8003, 10));                  // 8001 and 8002 closed: resolved; 8003 keeps overflowing
        assertEquals(1, first.engine().view().firing().size());
        Thread.sleep(200);
        first.close(); // the agent stops with 5 notifications undelivered
        assertEquals(0, receiver.requests.size());

        // it starts again (same state dir), 5 s later; the receiver comes back
        receiver.up();
        AlertService second = service(config("", 3));
        assertEquals(1, second.engine().view().firing().size(), "8003 is still firing");
        await(() -> receiver.delivered().size() >= 5, () -> "delivered " + receiver.delivered().size());
        // 8003 keeps overflowing: the restarted agent says nothing new
        evaluate(second, ports(8003, 15));
        evaluate(second, ports(8003, 20));
        evaluate(second, ports(8003, 25));
        Thread.sleep(300);
        assertEquals(5, receiver.delivered().size(), "not announced again as new");
        // it stops: resolved, once
        for (int i = 0; i < 3; i++) evaluate(second, ports(8003, 25));
        await(() -> receiver.delivered().size() >= 6, () -> "delivered " + receiver.delivered().size());
        Thread.sleep(300);
        List<TestReceiver.Request> got = receiver.delivered();
        assertEquals(6, got.size());
        assertEquals(6, got.stream().map(TestReceiver.Request::idempotencyKey).distinct().count());
        Map<String, Long> byStatus = got.stream().map(r -> new JsonObject(r.body()).getString("status"))
                .collect(Collectors.groupingBy(x -> x, Collectors.counting()));
        assertEquals(Map.of("firing", 3L, "resolved", 3L), byStatus);
        JsonObject last = new JsonObject(got.get(5).body());
        assertEquals("resolved", last.getString("status"));
        assertEquals("8003", last.getJsonObject("commonLabels").getString("port"));
        assertEquals(T0.plusSeconds(10).toString(), last.getJsonArray("alerts").getJsonObject(0).getString("startsAt"),
                "the alert that fired before the restart");
    }

    @Test
    void aReceiverAnswering4xxIsGivenUpOnAfterAFewTriesAndTheOthersCarryOn() throws Exception {
        receiver = new TestReceiver();
        TestReceiver good = new TestReceiver();
        try (good) {
            good.up();
            receiver.up();
            AtomicInteger calls = new AtomicInteger();
            receiver.status = () -> calls.incrementAndGet() <= 2 ? 400 : 200; // the first notification is refused twice
            AlertService s = service(config(", {\"name\": \"ops\", \"url\": \"" + good.url() + "\", \"format\": \"json\"}", 2));
            evaluate(s, ports(8001, 0));
            evaluate(s, ports(8001, 5)); // firing
            await(() -> s.delivery().counts().get("ops").get("delivered") == 1 && s.delivery().counts().get("am").get("dropped") == 1,
                    () -> "counts " + s.delivery().counts());
            evaluate(s, ports(8001, 5));
            evaluate(s, ports(8001, 5));
            evaluate(s, ports(8001, 5)); // resolved
            // the receiver records a request before it answers: wait for the agent to have read the answers
            await(() -> s.delivery().counts().get("am").get("delivered") == 1
                    && s.delivery().counts().get("ops").get("delivered") == 2, () -> "counts " + s.delivery().counts());
            assertEquals(Map.of("delivered", 1L, "failed", 0L, "rejected", 2L, "dropped", 1L), s.delivery().counts().get("am"));
            assertEquals(Map.of("delivered", 2L, "failed", 0L, "rejected", 0L, "dropped", 0L), s.delivery().counts().get("ops"));
            assertEquals("resolved", new JsonObject(receiver.delivered().get(0).body()).getString("status"));
            JsonObject plain = new JsonObject(good.delivered().get(0).body());
            assertEquals("acceptQueueOverflow", plain.getString("rule"));
            assertEquals("firing", plain.getString("status"));
            assertNull(good.delivered().get(0).signature(), "no secret, no signature");
            assertEquals(Set.of(), Set.copyOf(s.delivery().pending().values()).stream().filter(n -> n != 0).collect(Collectors.toSet()));
        }
    }

    @Test
    void twentyThousandFlappingCulpritsAgainstA503ReceiverStayWithinTheOutboxBound() throws Exception {
        receiver = new TestReceiver();
        receiver.status = () -> 503;
        receiver.up();
        AlertService s = service(config("", 3, ", \"maxPending\": 500"));
        Map<Integer, Long> all = new LinkedHashMap<>();
        for (int port = 10_000; port < 30_000; port++) all.put(port, 0L);
        evaluate(s, all);
        int cycles = 5;
        for (int c = 1; c <= cycles; c++) {
            long n = c * 10L;
            all.replaceAll((k, v) -> n);
            evaluate(s, all); // 100 alerts and the aggregate fire
            assertEquals(101, s.engine().view().firing().size());
            for (int i = 0; i < 3; i++) evaluate(s, all); // no more overflows: all 101 resolve
            assertEquals(0, s.engine().view().firing().size());
        }
        long offered = cycles * 2L * 101;
        await(() -> s.delivery().dropped().get("am").get("full") == offered - 500,
                () -> "dropped " + s.delivery().dropped() + ", pending " + s.delivery().pending());
        assertEquals(500, s.delivery().pending().get("am"));
        assertEquals(Map.of("full", offered - 500, "max_age", 0L, "corrupt", 0L), s.delivery().dropped().get("am"));
        List<String> names;
        try (Stream<Path> files = Files.list(stateDir.resolve("outbox/am"))) {
            names = files.map(f -> f.getFileName().toString()).toList();
        }
        assertEquals(500, names.size(), "the outbox on disk holds the bound");
        long resolved = names.stream().filter(n -> n.endsWith(".r.json")).count();
        assertTrue(resolved <= 1, "resolved notifications go first (one may be in flight): " + resolved);
        assertTrue(s.delivery().counts().get("am").get("failed") >= 1);
        String metrics = metrics(s);
        assertTrue(metrics.contains("tcpulse_webhook_dropped_total{receiver=\"am\",reason=\"full\"} " + (offered - 500) + "\n"), metrics);
        assertTrue(metrics.contains("tcpulse_webhook_pending{receiver=\"am\"} 500\n"), metrics);
    }

    private static String metrics(AlertService s) {
        StringBuilder out = new StringBuilder();
        s.api().writeMetrics(out);
        return out.toString();
    }

    /** An outbox file as Outbox writes it. */
    private Path outboxFile(long seq, String status, String body) throws Exception {
        Path dir = Files.createDirectories(stateDir.resolve("outbox/am"));
        String id = java.util.UUID.randomUUID().toString();
        Path f = dir.resolve(String.format("%019d-%s.%s.json", seq, id, status));
        Files.writeString(f, new JsonObject().put("id", id).put("receiver", "am").put("attempts", 0)
                .put("createdAt", java.time.Instant.now().toString()).put("body", body).encode());
        return f;
    }

    @Test
    void aCorruptOutboxFileIsQuarantinedAndCountedAndTheRestIsSent() throws Exception {
        receiver = new TestReceiver();
        receiver.up();
        Path bad = outboxFile(1, "f", "{}");
        Files.writeString(bad, "{\"id\": \"trunc");
        outboxFile(2, "f", "{\"status\":\"firing\"}");
        AlertService s = service(config("", 3));
        await(() -> s.delivery().counts().get("am").get("delivered") == 1, () -> "counts " + s.delivery().counts());
        assertEquals(Map.of("full", 0L, "max_age", 0L, "corrupt", 1L), s.delivery().dropped().get("am"));
        assertTrue(Files.exists(stateDir.resolve("outbox-quarantine/am").resolve(bad.getFileName())), "moved aside");
        assertFalse(Files.exists(bad));
        assertEquals("{\"status\":\"firing\"}", receiver.delivered().get(0).body());
        assertEquals(1, receiver.requests.size());
    }

    @Test
    void notificationsOlderThanMaxAgeAreDroppedUnsent() throws Exception {
        receiver = new TestReceiver();
        receiver.up();
        Path old = outboxFile(1, "r", "{\"old\":true}");
        Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minus(Duration.ofHours(25))));
        outboxFile(2, "f", "{\"new\":true}");
        AlertService s = service(config("", 3));
        await(() -> s.delivery().counts().get("am").get("delivered") == 1, () -> "counts " + s.delivery().counts());
        assertEquals(Map.of("full", 0L, "max_age", 1L, "corrupt", 0L), s.delivery().dropped().get("am"));
        assertEquals(List.of("{\"new\":true}"), receiver.delivered().stream().map(TestReceiver.Request::body).toList());
        assertFalse(Files.exists(old));
    }

    private static void await(Supplier<Boolean> done, Supplier<String> what) throws InterruptedException {
        Wait.until(Duration.ofSeconds(20), Duration.ofMillis(20), done::get, () -> "timed out: " + what.get());
    }
}
