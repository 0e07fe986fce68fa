package io.tcpulse.agent.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** YAML and JSON config files: chosen by extension, the same settings, the same checks with the same lines. */
class YamlConfigTest {
    private static final Path REPO = Path.of(System.getProperty("user.dir")).getParent();
    @TempDir Path dir;

    private static final String JSON = """
            {
              "listen": "127.0.0.1:9471",
              "probe": {"enabled": false, "maxOutage": "90s", "disabledFeatures": []},
              "http": {"maxConnections": 200, "corsOrigins": ["https://a.example"]},
              "alerts": {
                "evaluationInterval": "2s",
                "rules": {"acceptQueueOverflow": {"for": "10s", "threshold": 5, "severity": "page"},
                          "synFlood": {"enabled": false},
                          "handshakeLatency": {"percentile": 99.9, "side": "server", "threshold": 0.3}},
                "alertmanagers": [{"url": "http://am:9093", "timeout": "5s"}],
                "receivers": [{"name": "ops", "url": "https://hooks.example.com/x", "format": "json"}]
              }
            }
            """;

    private static final String YAML = """
            listen: 127.0.0.1:9471
            probe:
              enabled: false
              maxOutage: 90s
              disabledFeatures: []
            http:
              maxConnections: 200
              corsOrigins: [https://a.example]
            alerts:
              evaluationInterval: 2s
              rules:
                acceptQueueOverflow: {for: 10s, threshold: 5, severity: page}
                synFlood:
                  enabled: false
                handshakeLatency: {percentile: 99.9, side: server, threshold: 0.3}
              alertmanagers:
                - url: http://am:9093
                  timeout: 5s
              receivers:
                - name: ops
                  url: https://hooks.example.com/x
                  format: json
            """;

    @Test
    void yamlAndJsonGiveTheSameSettings() throws Exception {
        Config json = Config.load(Files.writeString(dir.resolve("tcpulse.json"), JSON));
        Config yaml = Config.load(Files.writeString(dir.resolve("tcpulse.yml"), YAML));
        assertEquals(json, yaml);
        assertEquals(9471, yaml.port());
        assertEquals(90_000, yaml.maxOutageMillis());
        assertEquals(99.9, yaml.alerts().rules().get("handshakeLatency").number("percentile"));
        assertEquals("http://am:9093/api/v2/alerts", yaml.alerts().alertmanagers().get(0).url());
        assertEquals(Config.load(Files.writeString(dir.resolve("tcpulse.yaml"), YAML)), yaml);
    }

    @Test
    void theSameMistakesGetTheSameMessagesWithTheirLines() {
        String json = """
                {
                  "probe": {"enabled": "yes"},
                  "lsiten": "x",
                  "alerts": {
                    "rules": {"closeWaitLeak": {"minAge": "-5s"}},
                    "alertmanagers": [{"url": "am:9093"}]
                  }
                }""";
        String yaml = """
                probe: {enabled: "yes"}
                lsiten: x
                alerts:
                  rules:
                    closeWaitLeak:
                      minAge: -5s
                  alertmanagers:
                    - url: am:9093
                """;
        List<String> j = assertThrows(Config.ConfigException.class, () -> Config.fromJson(json)).problems();
        List<String> y = assertThrows(Config.ConfigException.class, () -> Config.fromYaml(yaml)).problems();
        assertEquals(List.of(
                "line 3: unknown key lsiten (allowed: alerts, events, http, limits, listen, probe, stateDir, walk)",
                "line 2: probe.enabled must be true or false, got \"yes\"",
                "line 5: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\"",
                "line 6: alerts.alertmanagers[0].url must be an http:// or https:// URL, got \"am:9093\""), j);
        assertEquals(List.of(
                "line 2: unknown key lsiten (allowed: alerts, events, http, limits, listen, probe, stateDir, walk)",
                "line 1: probe.enabled must be true or false, got \"yes\"",
                "line 6: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\"",
                "line 8: alerts.alertmanagers[0].url must be an http:// or https:// URL, got \"am:9093\""), y);
    }

    @Test
    void syntaxErrorsDuplicatesAndTheWrongShapeNameTheirLine() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.yml"), "listen: 127.0.0.1:9470\nprobe:\n  enabled: [true\nwalk: {}\n");
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.load(bad));
        assertTrue(e.getMessage().startsWith("config file " + bad + ": line "), e.getMessage());
        assertTrue(e.getMessage().contains("invalid YAML"), e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.fromYaml("walk:\n  intervalMs: 1000\nwalk: {}\n"));
        assertEquals("line 3: duplicate key walk (first set on line 1)", e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.fromYaml("- listen\n"));
        assertEquals("line 1: the config file must hold one YAML mapping (key: value lines), got an array", e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.fromYaml("# nothing\n"));
        assertEquals("line 1: the config file is empty: it must hold one YAML mapping", e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.fromYaml("walk:\n  intervalMs: 1.5\n"));
        assertEquals("line 2: walk.intervalMs must be a whole number, got 1.5", e.getMessage());
    }

    @Test
    void theExamplesAreValidAndAgree() throws Exception {
        Config yaml = Config.load(REPO.resolve("examples/tcpulse.yml"));
        Config json = Config.load(REPO.resolve("examples/tcpulse.json"));
        assertEquals(json, yaml);
    }

    @Test
    void aYamlFileReloadsAndItsAlertmanagersWithIt() throws Exception {
        Path file = Files.writeString(dir.resolve("tcpulse.yml"), "alerts:\n  alertmanagers:\n    - url: http://am-1:9093\n");
        Config running = Config.parse(new String[]{"--config=" + file, "--listen=127.0.0.1:9470"});
        assertEquals(file.toString(), running.configFile());
        Files.writeString(file, """
                alerts:
                  resendInterval: 30s
                  alertmanagers:
                    - url: http://am-1:9093
                    - url: http://am-2:9093
                """);
        Config.Reload r = running.reload(running.reread(), true);
        assertEquals(List.of("alerts.receivers.alertmanager-2", "alerts.resendInterval"), r.changed());
        assertEquals(2, r.applied().alerts().alertmanagers().size());
        Files.writeString(file, "alerts:\n  alertmanagers:\n    - url: am-2:9093\n");
        Config.ConfigException e = assertThrows(Config.ConfigException.class, running::reread);
        assertEquals("config file " + file + ": line 3: alerts.alertmanagers[0].url must be an http:// or https:// URL,"
                + " got \"am-2:9093\"", e.getMessage());
    }

    @Test
    void aFileWithoutAKnownExtensionIsReadByItsFirstCharacter() throws Exception {
        assertEquals(9472, Config.load(Files.writeString(dir.resolve("conf"), "listen: 127.0.0.1:9472\n")).port());
        assertEquals(9473, Config.load(Files.writeString(dir.resolve("conf2"), "{\"listen\": \"127.0.0.1:9473\"}")).port());
    }
}
