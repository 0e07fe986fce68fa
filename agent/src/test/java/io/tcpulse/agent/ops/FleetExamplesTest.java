package io.tcpulse.agent.ops;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * examples/: the Prometheus scrape config, the alerting rules (checked and unit-tested by
 * promtool) and the Grafana dashboard. That every metric they name exists is checked
 * against a live scrape in PrometheusLiveKernelTest.
 */
public class FleetExamplesTest {
    static final Path PROMETHEUS = OpsFiles.repo().resolve("examples/prometheus");
    static final Path DASHBOARD = OpsFiles.repo().resolve("examples/grafana/tcpulse-dashboard.json");
    private static final Pattern METRIC = Pattern.compile("\\b(tcpulse_[a-z0-9_]+)");

    /** The built-in rules (docs/alerts.md) and the example rule that stands for each. */
    static final List<String> EQUIVALENTS = List.of(
            "TcpulseAcceptQueueOverflow", "TcpulseAcceptQueueFull", "TcpulseSynFloodSuspected",
            "TcpulseSynQueueDropsWithoutSyncookies", "TcpulseTimeWaitPortExhaustion", "TcpulseTimeWaitBucketOverflow",
            "TcpulseCloseWaitLeak", "TcpulseResetStorm", "TcpulseHandshakeLatencyHigh", "TcpulseConnectFailures",
            "TcpulseConnectFailureRate", "TcpulseRetransmitRatioHigh", "TcpulseEventsLost",
            "TcpulseProbeUnavailable");

    @Test
    void rulesPassPromtoolCheck() throws Exception {
        OpsFiles.Result r = OpsFiles.run("promtool", "check", "rules", PROMETHEUS.resolve("tcpulse-rules.yml").toString());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("SUCCESS"), r.output());
        String rules = Files.readString(PROMETHEUS.resolve("tcpulse-rules.yml"));
        for (String name : EQUIVALENTS) assertTrue(rules.contains("- alert: " + name + "\n"), name + " missing");
    }

    @Test
    void rulesFireOnTroubleAndStayQuietOtherwise() throws Exception {
        OpsFiles.Result r = OpsFiles.run("promtool", "test", "rules",
                PROMETHEUS.resolve("tcpulse-rules.test.yml").toString());
        assertEquals(0, r.exit(), r.output());
    }

    /** promtool insists that credential files exist: point them at empty ones. */
    @Test
    void scrapeConfigPassesPromtoolCheck(@TempDir Path dir) throws Exception {
        Path token = Files.writeString(dir.resolve("token"), "x");
        Path ca = Files.writeString(dir.resolve("ca.pem"), "");
        Files.copy(PROMETHEUS.resolve("tcpulse-rules.yml"), dir.resolve("tcpulse-rules.yml"));
        Files.writeString(dir.resolve("prometheus.yml"), Files.readString(PROMETHEUS.resolve("prometheus.yml"))
                .replace("/etc/prometheus/tcpulse.token", token.toString())
                .replace("/etc/prometheus/tcpulse-ca.pem", ca.toString()));
        OpsFiles.Result r = OpsFiles.run("promtool", "check", "config", dir.resolve("prometheus.yml").toString());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("SUCCESS: 1 rule files found"), r.output());
    }

    @Test
    void dashboardIsGrafanaJsonWithPanelsForEveryArea() throws Exception {
        JsonObject d = new JsonObject(Files.readString(DASHBOARD));
        assertEquals("tcpulse-fleet", d.getString("uid"));
        assertNotNull(d.getString("title"));
        JsonArray panels = d.getJsonArray("panels");
        assertTrue(panels.size() >= 10, "panels: " + panels.size());
        Set<Integer> ids = new TreeSet<>();
        for (int i = 0; i < panels.size(); i++) {
            JsonObject p = panels.getJsonObject(i);
            assertTrue(ids.add(p.getInteger("id")), "duplicate panel id " + p.getInteger("id"));
            JsonObject grid = p.getJsonObject("gridPos");
            assertTrue(grid.getInteger("x") + grid.getInteger("w") <= 24, p.getString("title") + " wider than the grid");
            if (p.getString("type").equals("row")) continue;
            JsonArray targets = p.getJsonArray("targets");
            assertFalse(targets.isEmpty(), p.getString("title") + " has no query");
            for (int t = 0; t < targets.size(); t++) assertFalse(targets.getJsonObject(t).getString("expr").isBlank());
        }
        String all = metricsOf(Files.readString(DASHBOARD)).toString();
        for (String area : List.of("tcpulse_sockets", "tcpulse_listen_accept_queue", "tcpulse_listen_overflows_total",
                "tcpulse_timewait_sockets", "tcpulse_closewait_sockets", "tcpulse_resets_total",
                "tcpulse_handshake_latency_seconds_bucket", "tcpulse_probe_events_lost_total")) {
            assertTrue(all.contains(area), area + " has no panel");
        }
    }

    /** Metric names (histogram series folded to their family) named in the examples. */
    public static Set<String> exampleMetrics() throws Exception {
        Set<String> out = new TreeSet<>(metricsOf(Files.readString(PROMETHEUS.resolve("tcpulse-rules.yml"))));
        out.addAll(metricsOf(Files.readString(DASHBOARD)));
        return out;
    }

    static Set<String> metricsOf(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) out.add(m.group(1));
        return out;
    }
}
