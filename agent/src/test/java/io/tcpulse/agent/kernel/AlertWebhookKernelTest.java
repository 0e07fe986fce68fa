package io.tcpulse.agent.kernel;

import com.sun.net.httpserver.HttpServer;
import io.tcpulse.agent.Main;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * End to end on the real kernel: a listener that keeps overflowing its accept queue in a
 * namespace of the test's own makes the overflow rule fire within for: plus one evaluation
 * interval; a real HTTP receiver gets one signed Alertmanager payload naming the port and
 * the owner, then a resolved one when the clients stop.
 */
@KernelTest
class AlertWebhookKernelTest {
    private static final String SECRET = "e2e-secret";
    private static final Duration FOR = Duration.ofSeconds(5);
    private static final Duration EVALUATION = Duration.ofSeconds(1);

    record Received(Instant at, String signature, String idempotencyKey, String body) {
        JsonObject json() { return new JsonObject(body); }

        JsonObject alert() { return json().getJsonArray("alerts").getJsonObject(0); }
    }

    @Test
    void anOverflowingListenerIsAnnouncedSignedWithItsOwnerThenResolved(Netns ns, Agents agents, @TempDir Path dir)
            throws Exception {
        List<Received> received = Collections.synchronizedList(new ArrayList<>());
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            received.add(new Received(Instant.now(), ex.getRequestHeaders().getFirst("X-Tcpulse-Signature"),
                    ex.getRequestHeaders().getFirst("Idempotency-Key"), body));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        receiver.start();
        Path config = dir.resolve("tcpulse.json");
        Files.writeString(config, """
                {
                  "stateDir": "%s",
                  "alerts": {
                    "evaluationInterval": "%ds",
                    "rules": {"acceptQueueOverflow": {"for": "%ds", "window": "5s"}},
                    "receivers": [{"name": "e2e", "url": "http://127.0.0.1:%d/hook", "secret": "%s"}],
                    "delivery": {"initialBackoff": "100ms", "maxBackoff": "1s"}
                  }
                }
                """.formatted(dir.resolve("state"), EVALUATION.toSeconds(), FOR.toSeconds(),
                receiver.getAddress().getPort(), SECRET));
        Path stop = dir.resolve("stop-clients");
        try {
            Main.Agent agent = agents.start("--config", config.toString(), "--walk-interval-ms", "300");
            long inode = ns.inode();
            Process server = ns.serve("--port", "8301", "--backlog", "4", "--no-accept");
            // clients that keep coming: the accept queue stays full and overflows again and again
            Instant clientsStarted = Instant.now();
            Process clients = ns.spawn("sh", "-c", "while [ ! -e " + stop + " ]; do " + stormTool()
                    + " connect --port 8301 --count 50 --parallel 50 --close rst >/dev/null 2>&1; sleep 0.2; done");

            Received firing = Wait.until(Duration.ofSeconds(30), () -> mine(received, inode, "firing"), l -> !l.isEmpty(),
                    l -> "no firing payload for the listener; received " + received + "; alerts "
                            + alerts(agent) + "; listeners " + listeners(agent, inode)).get(0);
            Duration took = Duration.between(clientsStarted, firing.at());
            // first overflow seen at the next walk (300 ms) and snapshot (200 ms), then for: + one evaluation
            assertTrue(took.compareTo(FOR.plus(EVALUATION).plusSeconds(2)) <= 0, "announced after " + took);
            JsonObject engineView = alerts(agent).getJsonArray("firing").stream().map(JsonObject.class::cast)
                    .filter(a -> a.getJsonObject("labels").getString("netns").equals(Long.toString(inode)))
                    .findFirst().orElseThrow();
            Duration pendingToFiring = Duration.between(Instant.parse(engineView.getString("since")),
                    Instant.parse(engineView.getString("firedAt")));
            assertTrue(pendingToFiring.compareTo(FOR.plus(EVALUATION)) <= 0, "fired " + pendingToFiring + " after it began");

            JsonObject p = firing.json();
            assertEquals("4", p.getString("version"));
            assertEquals("e2e", p.getString("receiver"));
            assertEquals(firing.idempotencyKey(), p.getString("idempotencyKey"));
            assertEquals(hmac(firing.body()), firing.signature(), "X-Tcpulse-Signature verifies");
            JsonObject labels = firing.alert().getJsonObject("labels");
            assertEquals("acceptQueueOverflow", labels.getString("alertname"));
            assertEquals("8301", labels.getString("port"));
            assertEquals("127.0.0.1", labels.getString("addr"));
            assertEquals(Long.toString(server.pid()), labels.getString("pid"), labels.encode());
            assertEquals("tcpulse-storm", labels.getString("comm"));
            assertTrue(firing.alert().getJsonObject("annotations").getString("description").contains("127.0.0.1:8301"));
            assertEquals("0001-01-01T00:00:00Z", firing.alert().getString("endsAt"));

            // it keeps overflowing for four more evaluations: still one announcement (a check that
            // nothing happens spans the evaluations it is about; there is no state to wait for)
            Thread.sleep(EVALUATION.multipliedBy(4).toMillis());
            assertEquals(1, mine(received, inode, "firing").size(), "one notification per rule and culprit");

            // the clients stop: no more overflows, the alert resolves
            Files.createFile(stop);
            assertTrue(clients.waitFor(15, java.util.concurrent.TimeUnit.SECONDS), "client loop did not stop");
            Received resolved = Wait.until(Duration.ofSeconds(30), () -> mine(received, inode, "resolved"), l -> !l.isEmpty(),
                    l -> "no resolved payload; received " + received + "; alerts " + alerts(agent)).get(0);
            assertEquals(hmac(resolved.body()), resolved.signature());
            assertEquals(firing.alert().getString("fingerprint"), resolved.alert().getString("fingerprint"));
            assertEquals(firing.alert().getString("startsAt"), resolved.alert().getString("startsAt"));
            assertNotEquals("0001-01-01T00:00:00Z", resolved.alert().getString("endsAt"));
            assertNotEquals(firing.idempotencyKey(), resolved.idempotencyKey());
            assertEquals(1, mine(received, inode, "firing").size());
            String metrics = get(agent.port(), "/metrics").body();
            assertTrue(metrics.contains("tcpulse_webhook_deliveries_total{receiver=\"e2e\",outcome=\"delivered\"} "), metrics);
        } finally {
            Files.deleteIfExists(stop);
            receiver.stop(0);
        }
    }

    /** Overflow payloads about this namespace's listener on 8301, with this status. */
    static List<Received> mine(List<Received> all, long inode, String status) {
        synchronized (all) {
            return all.stream().filter(r -> {
                JsonObject l = r.alert().getJsonObject("labels");
                return r.json().getString("status").equals(status)
                        && "acceptQueueOverflow".equals(l.getString("alertname"))
                        && Long.toString(inode).equals(l.getString("netns"))
                        && "8301".equals(l.getString("port"));
            }).toList();
        }
    }

    static String hmac(String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static JsonObject alerts(Main.Agent agent) {
        try {
            return getJson(agent.port(), "/api/v1/alerts");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static JsonArray listeners(Main.Agent agent, long inode) {
        try {
            return getJson(agent.port(), "/api/v1/listeners?netns=" + inode).getJsonArray("listeners");
        } catch (Exception e) {
            return new JsonArray().add(e.toString());
        }
    }
}
