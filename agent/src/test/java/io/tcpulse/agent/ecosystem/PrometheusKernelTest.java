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

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Debian's prometheus, run as a child on a loopback port, scraping a live agent with the
 * shipped examples/prometheus/prometheus.yml (HTTPS with a bearer token, file_sd targets)
 * and tcpulse-rules.yml. Rewritten for the test only: the target (the agent's port), the
 * token and CA file paths, 1 s scrape and evaluation intervals, the Alertmanager address
 * (nobody listens), and TcpulseAcceptQueueOverflow's for: (15s → 2s). The target is up,
 * every shipped rule evaluates without error, and an accept-queue overflow in the test's
 * namespace makes TcpulseAcceptQueueOverflow fire for that listener.
 */
@KernelTest
class PrometheusKernelTest {
    private static final Path EXAMPLES = Path.of(System.getProperty("user.dir")).getParent().resolve("examples/prometheus");
    private static final int PORT = 8303;

    @Test
    void theShippedScrapeConfigAndRulesWorkAgainstALiveAgent(@TempDir Path dir) throws Exception {
        requireRootAndBpf();
        String prometheus = ChildServer.require("prometheus", "prometheus");
        Path token = Files.writeString(dir.resolve("tcpulse.token"), "prometheus-e2e-token\n");
        Path cert = dir.resolve("cert.pem"), key = dir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", key.toString(), "-out", cert.toString()).redirectErrorStream(true).start();
        String out = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, openssl.waitFor(), "openssl: " + out);

        Path stop = dir.resolve("stop-clients");
        try (Netns ns = Netns.create();
             Main.Agent agent = Main.Agent.start(Config.parse(new String[]{"--listen", "127.0.0.1:0",
                     "--token-file", token.toString(), "--tls-cert", cert.toString(), "--tls-key", key.toString(),
                     "--walk-interval-ms", "300"}))) {
            Path prom = Files.createDirectories(dir.resolve("prometheus"));
            Files.createDirectories(prom.resolve("targets"));
            String config = Files.readString(EXAMPLES.resolve("prometheus.yml"));
            String rewritten = config
                    .replace("scrape_interval: 15s", "scrape_interval: 1s")
                    .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
                    .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
                    .replace("alertmanager.example.internal:9093", "127.0.0.1:9")
                    .replace("/etc/prometheus/tcpulse.token", token.toString())
                    .replace("/etc/prometheus/tcpulse-ca.pem", cert.toString());
            for (String changed : List.of("scrape_interval: 1s", "evaluation_interval: 1s", "127.0.0.1:9", token.toString(),
                    cert.toString())) {
                assertTrue(rewritten.contains(changed), "the example changed: no place for " + changed);
            }
            Files.writeString(prom.resolve("prometheus.yml"), rewritten);
            Files.writeString(prom.resolve("targets/tcpulse.yml"), "- targets: [\"127.0.0.1:" + agent.port() + "\"]\n"
                    + "  labels:\n    env: test\n");
            String rules = Files.readString(EXAMPLES.resolve("tcpulse-rules.yml"));
            String overflow = "      - alert: TcpulseAcceptQueueOverflow\n";
            int at = rules.indexOf(overflow);
            assertTrue(at >= 0, "TcpulseAcceptQueueOverflow is not in the shipped rules");
            int forAt = rules.indexOf("        for: 15s\n", at);
            assertTrue(forAt > at && forAt < rules.indexOf("- alert:", at + overflow.length()), "its for: 15s moved");
            Files.writeString(prom.resolve("tcpulse-rules.yml"),
                    rules.substring(0, forAt) + "        for: 2s\n" + rules.substring(forAt + "        for: 15s\n".length()));

            try (ChildServer p = ChildServer.start(prom, "prometheus", "/-/ready", prometheus,
                    "--config.file=" + prom.resolve("prometheus.yml"), "--storage.tsdb.path=" + prom.resolve("data"),
                    "--web.listen-address=127.0.0.1:PORT", "--log.level=info")) {
                await(Duration.ofSeconds(30), () -> "up".equals(target(p).getString("health")),
                        () -> "target not up: " + target(p).encode() + "\nprometheus log:\n" + p.logText());
                JsonObject t = target(p);
                assertEquals("127.0.0.1", t.getJsonObject("labels").getString("instance"), "the example's relabelling");
                assertEquals("tcpulse", t.getJsonObject("labels").getString("job"));

                // every shipped rule evaluated at least once, none with an error
                await(Duration.ofSeconds(30), () -> rules(p).stream().allMatch(r -> !r.getString("lastEvaluation", "")
                        .startsWith("0001")), () -> "rules not evaluated yet: " + rules(p));
                List<JsonObject> all = rules(p);
                assertTrue(all.size() >= 12, "rules loaded: " + all.size());
                for (JsonObject r : all) {
                    assertEquals("ok", r.getString("health"), r.getString("name") + ": " + r.getString("lastError"));
                }

                ns.serve("--port", Integer.toString(PORT), "--backlog", "4", "--no-accept");
                Process clients = ns.spawn("sh", "-c", "while [ ! -e " + stop + " ]; do " + KernelTestSupport.stormTool()
                        + " connect --port " + PORT + " --count 50 --parallel 50 --close rst >/dev/null 2>&1; sleep 0.2; done");
                String inode = Long.toString(ns.inode());
                await(Duration.ofSeconds(60), () -> firing(p, inode) != null,
                        () -> "TcpulseAcceptQueueOverflow not firing for port " + PORT + ": " + alertsText(p));
                JsonObject alert = firing(p, inode);
                assertEquals("critical", alert.getJsonObject("labels").getString("severity"));
                assertTrue(alert.getJsonObject("annotations").getString("summary").contains("127.0.0.1:" + PORT),
                        alert.encode());
                Files.createFile(stop);
                assertTrue(clients.waitFor(15, java.util.concurrent.TimeUnit.SECONDS));
            }
        } finally {
            Files.deleteIfExists(stop);
        }
    }

    private static JsonObject target(ChildServer p) {
        JsonArray active = get(p, "/api/v1/targets").getJsonObject("data").getJsonArray("activeTargets");
        return active.isEmpty() ? new JsonObject() : active.getJsonObject(0);
    }

    private static List<JsonObject> rules(ChildServer p) {
        List<JsonObject> out = new ArrayList<>();
        for (Object g : get(p, "/api/v1/rules").getJsonObject("data").getJsonArray("groups")) {
            for (Object r : ((JsonObject) g).getJsonArray("rules")) out.add((JsonObject) r);
        }
        return out;
    }

    private static JsonObject firing(ChildServer p, String inode) {
        for (Object o : get(p, "/api/v1/alerts").getJsonObject("data").getJsonArray("alerts")) {
            JsonObject a = (JsonObject) o;
            JsonObject l = a.getJsonObject("labels");
            if ("TcpulseAcceptQueueOverflow".equals(l.getString("alertname")) && "firing".equals(a.getString("state"))
                    && Integer.toString(PORT).equals(l.getString("port")) && inode.equals(l.getString("netns"))) {
                return a;
            }
        }
        return null;
    }

    private static String alertsText(ChildServer p) {
        return get(p, "/api/v1/alerts").encode();
    }

    private static JsonObject get(ChildServer p, String path) {
        try {
            var r = p.get(path);
            assertEquals(200, r.statusCode(), r.body());
            return new JsonObject(r.body());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
