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
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * AlertService.reload with a clock the test moves: alerts and what the rules have seen
 * carry over, new thresholds and receivers apply from the next evaluation, a receiver that
 * is gone leaves nothing in the outbox, and alerting that lived in memory gets an outbox.
 */
class AlertReloadTest {
    @TempDir Path stateDir;
    private final Clock clock = new Clock();
    private final Source source = new Source();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closing) c.close();
    }

    /** acceptQueueOverflow only (window 1m) with this threshold, for 0s; these receivers; fast retries. */
    private static AlertsConfig config(double threshold, String receiversJson) throws Config.ConfigException {
        return Config.fromJson("""
                {"alerts": {
                  "rules": {
                    "acceptQueueOverflow": {"for": "0s", "window": "1m", "threshold": %s},
                    "acceptQueueFull": {"enabled": false}, "synFlood": {"enabled": false},
                    "synQueueDrops": {"enabled": false}, "timeWaitExhaustion": {"enabled": false},
                    "timeWaitOverflow": {"enabled": false}, "closeWaitLeak": {"enabled": false},
                    "resetStorm": {"enabled": false}, "handshakeLatency": {"enabled": false},
                    "eventsLost": {"enabled": false}, "probeUnavailable": {"enabled": false}
                  },
                  "receivers": [%s],
                  "delivery": {"initialBackoff": "20ms", "maxBackoff": "200ms", "timeout": "2s"}
                }}""".formatted(threshold, receiversJson)).alerts();
    }

    private static String receiver(String name, TestReceiver r, String secret) {
        return "{\"name\": \"" + name + "\", \"url\": \"" + r.url() + "\"" + (secret == null ? "" : ", \"secret\": \"" + secret + "\"") + "}";
    }

    private AlertService service(AlertsConfig config, Path dir) throws Exception {
        AlertService s = AlertService.create(config, source, dir, clock, Map.of("host", "web-1"));
        closing.add(s);
        s.startDelivery("http://web-1:9470/");
        return s;
    }

    private TestReceiver receiverUp() throws Exception {
        TestReceiver r = new TestReceiver();
        closing.add(r);
        r.up();
        return r;
    }

    /** The listener on 8001 with this many overflows since the start, evaluated 5 s after the last time. */
    private void evaluate(AlertService s, long overflows) {
        source.snapshot = Parts.empty().listeners(listener(8001, overflows, ListenerStatus.VERDICT_OK)).snapshot();
        clock.advance(Duration.ofSeconds(5));
        s.evaluateOnce();
    }

    @Test
    void aLowerThresholdAppliesAtTheNextEvaluationWithTheWindowKept() throws Exception {
        AlertService s = service(config(5, ""), null);
        evaluate(s, 0);
        evaluate(s, 3); // 3 overflows within the window: under 5
        assertTrue(s.engine().view().pending().isEmpty() && s.engine().view().firing().isEmpty());

        s.reload(config(2, ""), null);
        assertEquals(2.0, s.config().rules().get("acceptQueueOverflow").threshold());
        evaluate(s, 3); // no new overflow, but the window still holds the 3: over 2 now
        assertEquals(1, s.engine().view().firing().size(), "a rule rebuilt with a fresh window would see 0 here");
    }

    @Test
    void aFiringAlertCarriesOverWithoutBeingAnnouncedAgainAndResolvesUnderTheNewThreshold() throws Exception {
        TestReceiver am = receiverUp();
        AlertService s = service(config(1, receiver("am", am, null)), stateDir);
        evaluate(s, 0);
        evaluate(s, 10); // firing
        await(() -> am.delivered().size() == 1, () -> "delivered " + am.requests);
        String since = s.engine().view().firing().get(0).since().toString();

        s.reload(config(5, receiver("am", am, null)), null);
        evaluate(s, 12); // 12 within the window, over the new clearBelow (5): still firing, same alert
        assertEquals(1, s.engine().view().firing().size());
        assertEquals(since, s.engine().view().firing().get(0).since().toString());

        s.reload(config(50, receiver("am", am, null)), null);
        evaluate(s, 12); // 12 < 50: resolved, announced once
        assertEquals(0, s.engine().view().firing().size());
        await(() -> am.delivered().size() == 2, () -> "delivered " + am.requests);
        Thread.sleep(200);
        List<String> statuses = am.delivered().stream().map(r -> new JsonObject(r.body()).getString("status")).toList();
        assertEquals(List.of("firing", "resolved"), statuses, "a reload announces nothing by itself");
    }

    @Test
    void aNewReceiverAndSecretTakeTheNextNotificationAndAGoneReceiverKeepsNothing() throws Exception {
        TestReceiver kept = receiverUp();
        TestReceiver gone = new TestReceiver(); // never up: its notifications wait in the outbox
        closing.add(gone);
        TestReceiver added = receiverUp();
        AlertService s = service(config(1, receiver("kept", kept, "old-secret") + ", " + receiver("gone", gone, null)), stateDir);
        evaluate(s, 0);
        evaluate(s, 10); // firing: to kept (delivered) and gone (pending)
        // the receiver records a request before it answers: wait for the agent to have read the answer
        await(() -> s.delivery().counts().get("kept").get("delivered") == 1, () -> "delivered " + kept.requests);
        TestReceiver.Request firing = kept.delivered().get(0);
        assertEquals(WebhookDelivery.signature("old-secret", firing.body().getBytes(StandardCharsets.UTF_8)), firing.signature());
        assertEquals(1, entries(stateDir.resolve("outbox/gone")));
        assertEquals(1, s.delivery().pending().get("gone"));

        s.reload(config(1, receiver("kept", kept, "new-secret") + ", " + receiver("added", added, null)), null);
        assertEquals(0, entries(stateDir.resolve("outbox/gone")), "the removed receiver's outbox is emptied");
        assertEquals(List.of("kept", "added"), List.copyOf(s.delivery().pending().keySet()));
        assertEquals(1L, s.delivery().counts().get("kept").get("delivered"), "counts carry over a reload");

        for (int i = 0; i < 13; i++) evaluate(s, 10); // a minute without overflows: resolved
        await(() -> kept.delivered().size() == 2 && added.delivered().size() == 1,
                () -> "kept " + kept.requests + ", added " + added.requests);
        TestReceiver.Request resolved = kept.delivered().get(1);
        assertEquals("resolved", new JsonObject(resolved.body()).getString("status"));
        assertEquals(WebhookDelivery.signature("new-secret", resolved.body().getBytes(StandardCharsets.UTF_8)),
                resolved.signature(), "signed with the rotated secret");
        assertEquals("resolved", new JsonObject(added.delivered().get(0).body()).getString("status"));
        assertTrue(gone.requests.isEmpty());
    }

    @Test
    void alertingThatLivedInMemoryGetsAnOutboxWhenAReceiverIsAdded() throws Exception {
        TestReceiver am = receiverUp();
        AlertService s = service(config(1, ""), null);
        assertNull(s.stateDir());
        evaluate(s, 0);
        evaluate(s, 10); // firing, nobody told

        s.reload(config(1, receiver("am", am, null)), stateDir.toString());
        assertEquals(stateDir, s.stateDir());
        for (int i = 0; i < 13; i++) evaluate(s, 10); // resolved: now announced
        await(() -> am.delivered().size() == 1, () -> "delivered " + am.requests);
        assertEquals("resolved", new JsonObject(am.delivered().get(0).body()).getString("status"));
        assertTrue(Files.exists(stateDir.resolve("alerts.json")), "alert state is kept from now on");
    }

    private static long entries(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".json")).count();
        }
    }

    private static void await(Supplier<Boolean> done, Supplier<String> what) throws InterruptedException {
        Wait.until(Duration.ofSeconds(20), Duration.ofMillis(20), done::get, () -> "timed out: " + what.get());
    }
}
