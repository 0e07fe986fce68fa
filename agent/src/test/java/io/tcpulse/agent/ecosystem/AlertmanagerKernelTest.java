package io.tcpulse.agent.ecosystem;

import io.tcpulse.agent.kernel.KernelTest;
import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.kernel.KernelTestSupport;
import io.tcpulse.agent.kernel.Netns;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Alerts into real Alertmanagers: two of Debian's prometheus-alertmanager (an HA pair,
 * unclustered so that each must hear from the agent itself), one from the config file's
 * alerts.alertmanagers, one from --alertmanager. A listener overflowing its accept queue in
 * the test's own namespace becomes an active alert in both, naming the listener; when the
 * clients stop, it leaves both active lists within seconds (Alertmanager's resolve_timeout
 * is 5m: only the agent's resolved alert can do that).
 */
@KernelTest
class AlertmanagerKernelTest {
    private static final int PORT = 8302;

    @Test
    void anOverflowBecomesAnActiveAlertInEveryAlertmanagerAndLeavesWhenItClears(@TempDir Path dir) throws Exception {
        requireRootAndBpf();
        String am = ChildServer.require("prometheus-alertmanager", "prometheus-alertmanager");
        Path amConfig = dir.resolve("alertmanager.yml");
        Files.writeString(amConfig, """
                global:
                  resolve_timeout: 5m
                route:
                  receiver: nobody
                receivers:
                  - name: nobody
                """);
        Path stop = dir.resolve("stop-clients");
        try (ChildServer a = startAlertmanager(am, amConfig, dir, "am-a");
             ChildServer b = startAlertmanager(am, amConfig, dir, "am-b")) {
            Path config = dir.resolve("tcpulse.json");
            Files.writeString(config, """
                    {
                      "stateDir": "%s",
                      "alerts": {
                        "evaluationInterval": "1s",
                        "resendInterval": "2s",
                        "rules": {"acceptQueueOverflow": {"for": "2s", "window": "5s"}},
                        "alertmanagers": [{"name": "am-a", "url": "%s", "timeout": "5s"}],
                        "delivery": {"initialBackoff": "100ms", "maxBackoff": "1s"}
                      }
                    }
                    """.formatted(dir.resolve("state"), a.url()));
            try (Netns ns = Netns.create();
                 Main.Agent agent = Main.Agent.start(Config.parse(new String[]{"--listen", "127.0.0.1:0",
                         "--config", config.toString(), "--alertmanager", b.url() + "/", "--walk-interval-ms", "300"}))) {
                String inode = Long.toString(ns.inode());
                ns.serve("--port", Integer.toString(PORT), "--backlog", "4", "--no-accept");
                Process clients = ns.spawn("sh", "-c", "while [ ! -e " + stop + " ]; do " + KernelTestSupport.stormTool()
                        + " connect --port " + PORT + " --count 50 --parallel 50 --close rst >/dev/null 2>&1; sleep 0.2; done");

                for (ChildServer s : List.of(a, b)) {
                    await(Duration.ofSeconds(40), () -> active(s, inode) != null,
                            () -> "no active alert in " + s.url() + ": " + alertsText(s) + "\nagent alerts: "
                                    + agentJson(agent, "/api/v1/alerts") + "\nalertmanager log:\n" + s.logText());
                }
                for (ChildServer s : List.of(a, b)) {
                    JsonObject alert = active(s, inode);
                    JsonObject labels = alert.getJsonObject("labels");
                    assertEquals("127.0.0.1", labels.getString("addr"), labels.encode());
                    assertEquals("critical", labels.getString("severity"));
                    assertEquals("tcpulse-storm", labels.getString("comm"));
                    assertNotNull(labels.getString("host"));
                    assertTrue(alert.getJsonObject("annotations").getString("description").contains("127.0.0.1:" + PORT),
                            alert.encode());
                    assertEquals("http://127.0.0.1:" + agent.port() + "/api/v1/alerts", alert.getString("generatorURL"));
                    Instant ends = Instant.parse(alert.getString("endsAt"));
                    // near future: four resends (2s) ahead, never Alertmanager's own resolve_timeout (5m)
                    assertTrue(ends.isAfter(Instant.now()) && ends.isBefore(Instant.now().plusSeconds(30)), "endsAt " + ends);
                }
                // resent while it fires: endsAt moves on
                Instant firstEnds = Instant.parse(active(a, inode).getString("endsAt"));
                await(Duration.ofSeconds(15), () -> {
                    JsonObject now = active(a, inode);
                    return now != null && Instant.parse(now.getString("endsAt")).isAfter(firstEnds);
                }, () -> "endsAt never moved on: " + alertsText(a));

                Files.createFile(stop);
                assertTrue(clients.waitFor(15, java.util.concurrent.TimeUnit.SECONDS), "client loop did not stop");
                Instant stopped = Instant.now();
                for (ChildServer s : List.of(a, b)) {
                    await(Duration.ofSeconds(45), () -> active(s, inode) == null,
                            () -> "the alert is still active in " + s.url() + ": " + alertsText(s) + "\nagent alerts: "
                                    + agentJson(agent, "/api/v1/alerts"));
                }
                Duration left = Duration.between(stopped, Instant.now());
                assertTrue(left.compareTo(Duration.ofSeconds(45)) < 0, "left the active lists after " + left);
                String metrics = get(agent.port(), "/metrics").body();
                for (String r : List.of("am-a", "alertmanager")) {
                    assertTrue(metrics.contains("tcpulse_webhook_deliveries_total{receiver=\"" + r + "\",outcome=\"delivered\"} "),
                            metrics);
                    assertFalse(metrics.contains("tcpulse_webhook_deliveries_total{receiver=\"" + r + "\",outcome=\"rejected\"} 1"),
                            metrics);
                }
            } finally {
                Files.deleteIfExists(stop);
            }
        }
    }

    private static ChildServer startAlertmanager(String am, Path config, Path dir, String name) throws Exception {
        Path storage = Files.createDirectories(dir.resolve(name + "-data"));
        return ChildServer.start(dir, name, "/-/ready", am, "--config.file=" + config, "--storage.path=" + storage,
                "--web.listen-address=127.0.0.1:PORT", "--cluster.listen-address=", "--log.level=info");
    }

    /** The active acceptQueueOverflow alert of the test's listener, or null. */
    private static JsonObject active(ChildServer am, String inode) {
        JsonArray all = new JsonArray(alertsText(am));
        for (Object o : all) {
            JsonObject alert = (JsonObject) o;
            JsonObject l = alert.getJsonObject("labels");
            if ("acceptQueueOverflow".equals(l.getString("alertname")) && inode.equals(l.getString("netns"))
                    && Integer.toString(PORT).equals(l.getString("port"))
                    && "active".equals(alert.getJsonObject("status").getString("state"))) {
                return alert;
            }
        }
        return null;
    }

    private static String alertsText(ChildServer am) {
        try {
            var r = am.get("/api/v2/alerts?active=true&silenced=false&inhibited=false");
            assertEquals(200, r.statusCode(), r.body());
            return r.body();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String agentJson(Main.Agent agent, String path) {
        try {
            return get(agent.port(), path).body();
        } catch (Exception e) {
            return e.toString();
        }
    }
}
