package io.tcpulse.agent.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The config file is checked strictly: every bad file below is refused with exactly this message. */
class ConfigValidationTest {

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                bad("""
                        {"limits": {"apiListLimit": 0}}""",
                        "line 1: limits.apiListLimit must be at least 1, got 0"),
                bad("""
                        {"limits": {"metricsListeners": -1}}""",
                        "line 1: limits.metricsListeners must be at least 0, got -1"),
                bad("""
                        {"limits": {"maxStream": 3}}""",
                        "line 1: unknown key limits.maxStream (allowed: apiListLimit, maxStreams, metricsListeners, metricsNamespaces, perClientConnections)"),
                bad("""
                        {"alerts": {"maxFiringPerRule": 0}}""",
                        "line 1: alerts.maxFiringPerRule must be at least 1, got 0"),
                bad("""
                        {"alerts": {"delivery": {"maxPendingBytes": 100}}}""",
                        "line 1: alerts.delivery.maxPendingBytes must be at least 4096, got 100"),
                bad("""
                        {"alerts": {"delivery": {"maxAge": "-1h"}}}""",
                        "line 1: alerts.delivery.maxAge must be a positive duration like 5m, got \"-1h\""),
                bad("""
                        {"probe": {"enabled": "yes"}}""",
                        "line 1: probe.enabled must be true or false, got \"yes\""),
                bad("""
                        {
                          "alerts": {
                            "rules": {
                              "closeWaitLeak": {"minAge": "-5s"}
                            }
                          }
                        }""",
                        "line 4: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\""),
                bad("""
                        {
                          "listen": "127.0.0.1:9470",
                          "lsiten": "0.0.0.0:9470"
                        }""",
                        "line 3: unknown key lsiten (allowed: alerts, events, http, limits, listen, probe, stateDir, walk)"),
                bad("""
                        {"alerts": {"rules": {
                            "synflood": {"enabled": false}
                        }}}""",
                        "line 2: alerts.rules.synflood is not a built-in rule (rules: acceptQueueFull, acceptQueueOverflow,"
                                + " closeWaitLeak, connectFailureRate, connectFailures, eventsLost, handshakeLatency,"
                                + " probeUnavailable, resetStorm, retransmitRatio, synFlood, synQueueDrops,"
                                + " timeWaitExhaustion, timeWaitOverflow)"),
                bad("""
                        {"alerts": {"rules": {"acceptQueueFull": {
                            "for": "1m",
                            "threshold": 3
                        }}}}""",
                        "line 3: alerts.rules.acceptQueueFull.threshold is not a setting of this rule"
                                + " (settings: enabled, for, repeatInterval, severity)"),
                bad("""
                        {"alerts": {"rules": {"timeWaitExhaustion": {"threshold": 1.5}}}}""",
                        "line 1: alerts.rules.timeWaitExhaustion.threshold must be greater than 0 and at most 1, got 1.5"),
                bad("""
                        {"alerts": {"rules": {"timeWaitExhaustion": {
                            "threshold": 0.8,
                            "clearBelow": 0.9
                        }}}}""",
                        "line 3: alerts.rules.timeWaitExhaustion.clearBelow must not be above the threshold (0.8), got 0.9"),
                bad("""
                        {"alerts": {"rules": {"resetStorm": {"clearBelow": 0}}}}""",
                        "line 1: alerts.rules.resetStorm.clearBelow must be greater than 0, got 0"),
                bad("""
                        {"alerts": {"rules": {"acceptQueueOverflow": {"threshold": "1"}}}}""",
                        "line 1: alerts.rules.acceptQueueOverflow.threshold must be a number, got \"1\""),
                bad("""
                        {"alerts": {"rules": {"acceptQueueOverflow": {"for": 30}}}}""",
                        "line 1: alerts.rules.acceptQueueOverflow.for must be a duration like 30s (0s for none), got 30"),
                bad("""
                        {"alerts": {"rules": {"acceptQueueOverflow": {"repeatInterval": "0s"}}}}""",
                        "line 1: alerts.rules.acceptQueueOverflow.repeatInterval must be a positive duration like 5m, got \"0s\""),
                bad("""
                        {"alerts": {"rules": {"acceptQueueOverflow": {"window": "10 s"}}}}""",
                        "line 1: alerts.rules.acceptQueueOverflow.window must be a positive duration like 5m, got \"10 s\""),
                bad("""
                        {"alerts": {"rules": {"synFlood": false}}}""",
                        "line 1: alerts.rules.synFlood must be an object such as {\"enabled\": false}, got false"),
                bad("""
                        {"alerts": {"rules": {"handshakeLatency": {"side": "up"}}}}""",
                        "line 1: alerts.rules.handshakeLatency.side must be one of server, client, both, got \"up\""),
                bad("""
                        {"alerts": {"rules": {"handshakeLatency": {"percentile": 0}}}}""",
                        "line 1: alerts.rules.handshakeLatency.percentile must be greater than 0 and at most 100, got 0"),
                bad("""
                        {"alerts": {"rules": {"closeWaitLeak": {"minCount": 2.5}}}}""",
                        "line 1: alerts.rules.closeWaitLeak.minCount must be a whole number, got 2.5"),
                bad("""
                        {"alerts": {"evaluationInterval": "50ms"}}""",
                        "line 1: alerts.evaluationInterval must be at least 100ms, got \"50ms\""),
                bad("""
                        {"alerts": {"receivers": {"url": "http://x/"}}}""",
                        "line 1: alerts.receivers must be an array, got an object"),
                bad("""
                        {"alerts": {"receivers": [
                            {"name": "ops", "format": "json"}
                        ]}}""",
                        "line 2: alerts.receivers[0] needs a url"),
                bad("""
                        {"alerts": {"receivers": [
                            {"url": "ftp://example.com/hook"}
                        ]}}""",
                        "line 2: alerts.receivers[0].url must be an http:// or https:// URL, got \"ftp://example.com/hook\""),
                bad("""
                        {"alerts": {"receivers": [
                            {"url": "http://example.com/hook", "format": "xml"}
                        ]}}""",
                        "line 2: alerts.receivers[0].format must be one of alertmanager, json, slack, got \"xml\""),
                bad("""
                        {"alerts": {"receivers": [
                            {"name": "ops", "url": "http://a.example/hook"},
                            {"name": "ops", "url": "http://b.example/hook"}
                        ]}}""",
                        "line 3: alerts.receivers[1].name \"ops\" is already used by alerts.receivers[0]"),
                bad("""
                        {"alerts": {"receivers": [
                            {"name": "../etc", "url": "http://a.example/hook"}
                        ]}}""",
                        "line 2: alerts.receivers[0].name must be 1-64 letters, digits, '.', '_' or '-' (starting with a"
                                + " letter or digit), got \"../etc\""),
                bad("""
                        {"alerts": {"receivers": [{
                            "url": "http://a.example/hook",
                            "headers": {"Idempotency-Key": "x"}
                        }]}}""",
                        "line 3: alerts.receivers[0].headers.Idempotency-Key is set by tcpulse and cannot be configured"),
                bad("""
                        {"alerts": {"receivers": [{
                            "url": "http://a.example/hook",
                            "headers": {"Authorization": 42}
                        }]}}""",
                        "line 3: alerts.receivers[0].headers.Authorization must be a string, got 42"),
                bad("""
                        {"alerts": {"receivers": [{
                            "url": "http://a.example/hook",
                            "secret": "s3cret",
                            "secretFile": "/etc/tcpulse/webhook.key"
                        }]}}""",
                        "line 4: alerts.receivers[0] has both secret and secretFile: keep one"),
                bad("""
                        {"alerts": {"delivery": {"initialBackoff": "10s", "maxBackoff": "1s"}}}""",
                        "line 1: alerts.delivery.maxBackoff must not be shorter than initialBackoff (10s), got \"1s\""),
                bad("""
                        {"alerts": {"delivery": {"clientErrorAttempts": 0}}}""",
                        "line 1: alerts.delivery.clientErrorAttempts must be at least 1, got 0"),
                bad("""
                        {"probe": {"ringBytes": 5000}}""",
                        "line 1: probe.ringBytes must be a power of two, got 5000"),
                bad("""
                        {"probe": {"maxOutage": "soon"}}""",
                        "line 1: probe.maxOutage must be a duration like 30s (0s for none), got \"soon\""),
                bad("""
                        {"probe": {"maxOutage": "500ms"}}""",
                        "line 1: probe.maxOutage must be 0s (never) or at least 1s, got \"500ms\""),
                bad("""
                        {"http": {"maxConnections": -1}}""",
                        "line 1: http.maxConnections must be at least 0, got -1"),
                bad("""
                        {"walk": {"intervalMs": 1.5}}""",
                        "line 1: walk.intervalMs must be a whole number, got 1.5"),
                bad("""
                        {"events": {"recent": 0}}""",
                        "line 1: events.recent must be at least 1, got 0"),
                bad("""
                        {"listen": "9470"}""",
                        "line 1: listen must be HOST:PORT, got 9470"),
                bad("""
                        {"stateDir": "state"}""",
                        "line 1: stateDir must be an absolute path, got \"state\""),
                bad("""
                        {"http": {"tlsCert": "/etc/tcpulse/cert.pem"}}""",
                        "line 1: http.tlsCert and http.tlsKey go together: tlsKey is missing"),
                bad("""
                        {"http": {"corsOrigins": ["https://grafana.example.com", 1]}}""",
                        "line 1: http.corsOrigins[1] must be a string, got 1"),
                bad("""
                        {"http": {"maxRequestBytes": 10}}""",
                        "line 1: http.maxRequestBytes must be at least 1024, got 10"),
                bad("""
                        {
                          "probe": {
                            "enabled": true,
                            "enabled": false
                          }
                        }""",
                        "line 4: duplicate key probe.enabled (first set on line 3)"),
                bad("""
                        {
                          "listen": "127.0.0.1:9470"
                          "probe": {}
                        }""",
                        "line 3: invalid JSON: Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries"),
                bad("""
                        [{"listen": "127.0.0.1:9470"}]""",
                        "line 1: the config file must hold one JSON object, got an array"),
                bad("",
                        "line 1: the config file is empty: it must hold one JSON object"),
                bad("""
                        {"probe": {}} {}""",
                        "line 1: unexpected content after the top-level object"));
    }

    private static Arguments bad(String json, String message) {
        return Arguments.of(json, message);
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("badConfigs")
    void refusedWithAMessageNamingTheKeyAndTheLine(String json, String expected) {
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.fromJson(json));
        assertEquals(expected, e.getMessage());
        assertEquals(List.of(expected), e.problems());
    }

    @Test
    void collectionOutageAndConnectionCapFromFlags() throws Exception {
        Config d = Config.parse(new String[0]);
        assertEquals(300_000, d.maxOutageMillis(), "5 minutes by default");
        assertEquals(0, d.maxConnections(), "automatic by default");
        assertEquals(0, Config.parse(new String[] {"--max-collection-outage", "0s"}).maxOutageMillis(), "0s: never");
        assertEquals(90_000, Config.parse(new String[] {"--max-collection-outage", "1m30s"}).maxOutageMillis());
        assertEquals(50, Config.parse(new String[] {"--max-connections", "50"}).maxConnections());
        assertEquals("--max-collection-outage must be a duration like 5m or 90s (0s: never), got \"300\"",
                assertThrows(Config.ConfigException.class,
                        () -> Config.parse(new String[] {"--max-collection-outage", "300"})).getMessage());
        assertEquals("--max-collection-outage must be 0s (never) or at least 1s, got 10ms",
                assertThrows(Config.ConfigException.class,
                        () -> Config.parse(new String[] {"--max-collection-outage", "10ms"})).getMessage());
        // read at start only; the connection cap reloads
        Config.Reload r = d.reload(Config.parse(new String[] {"--max-collection-outage", "1m", "--max-connections", "9"}), false);
        assertEquals(List.of("probe.maxOutage"), r.restartRequired());
        assertEquals(List.of("http.maxConnections"), r.changed());
        assertEquals(300_000, r.applied().maxOutageMillis());
        assertEquals(9, r.applied().maxConnections());
    }

    @Test
    void everyProblemOfAFileIsReportedAtOnce(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tcpulse.json");
        Files.writeString(file, """
                {
                  "probe": {"enabled": 1},
                  "alerts": {
                    "evaluationInterval": "soon",
                    "rules": {"closeWaitLeak": {"minAge": "-5s"}}
                  }
                }
                """);
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.load(file));
        assertEquals(List.of(
                "line 2: probe.enabled must be true or false, got 1",
                "line 4: alerts.evaluationInterval must be a positive duration like 5m, got \"soon\"",
                "line 5: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\""), e.problems());
        assertEquals("config file " + file + ":\n"
                + "  line 2: probe.enabled must be true or false, got 1\n"
                + "  line 4: alerts.evaluationInterval must be a positive duration like 5m, got \"soon\"\n"
                + "  line 5: alerts.rules.closeWaitLeak.minAge must be a positive duration like 5m, got \"-5s\"",
                e.getMessage());

        Files.writeString(file, "{\"walk\": {\"intervalMs\": 5}}");
        e = assertThrows(Config.ConfigException.class, () -> Config.parse(new String[] {"--config", file.toString()}));
        assertEquals("config file " + file + ": line 1: walk.intervalMs must be at least 100, got 5", e.getMessage());
    }

    @Test
    void boundsAreReadAndDefaulted() throws Exception {
        Config d = Config.fromJson("{}");
        assertEquals(io.tcpulse.agent.config.Limits.defaults(), d.limits());
        assertEquals(new Limits(500, 500, 64, 32), d.limits());
        assertEquals(100, d.alerts().maxFiringPerRule());
        assertEquals(10_000, d.alerts().delivery().maxPending());
        assertEquals(java.time.Duration.ofHours(24), d.alerts().delivery().maxAge());
        Config c = Config.fromJson("""
                {"limits": {"metricsListeners": 50, "apiListLimit": 20, "perClientConnections": 0, "maxStreams": 4},
                 "alerts": {"maxFiringPerRule": 10,
                            "delivery": {"maxPending": 7, "maxPendingBytes": 8192, "maxAge": "1h", "maxResponseBytes": 512}}}""");
        assertEquals(new Limits(50, 20, 0, 4), c.limits());
        assertEquals(10, c.alerts().maxFiringPerRule());
        var del = c.alerts().delivery();
        assertEquals(List.of(7, 8192L, java.time.Duration.ofHours(1), 512),
                List.of(del.maxPending(), del.maxPendingBytes(), del.maxAge(), del.maxResponseBytes()));
        assertEquals(List.of("limits.metricsListeners", "limits.apiListLimit", "limits.perClientConnections", "limits.maxStreams",
                "alerts.delivery", "alerts.maxFiringPerRule"), d.reload(c, false).changed());
    }

    @Test
    void aFullConfigIsRead(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("webhook.key");
        Files.writeString(secret, "k3y\n");
        Config c = Config.fromJson("""
                {
                  "listen": "127.0.0.1:9471",
                  "stateDir": "/var/lib/tcpulse",
                  "probe": {"enabled": false, "maxEventsPerSec": 100000, "ringBytes": 8388608, "tickMs": 2, "maxOutage": "90s"},
                  "walk": {"intervalMs": 1000},
                  "events": {"recent": 500},
                  "http": {"tokenFile": "/etc/tcpulse/token", "maxRequestBytes": 4096, "requestsPerSecond": 0,
                           "corsOrigins": ["https://grafana.example.com"], "maxConnections": 200},
                  "alerts": {
                    "evaluationInterval": "2s",
                    "externalUrl": "https://tcpulse.example.com",
                    "rules": {
                      "acceptQueueOverflow": {"for": "10s", "window": "30s", "threshold": 5, "severity": "page"},
                      "synFlood": {"enabled": false},
                      "timeWaitExhaustion": {"threshold": 0.9, "clearBelow": 0.85},
                      "resetStorm": {"threshold": 500},
                      "closeWaitLeak": {"minAge": "10m", "minCount": 10},
                      "handshakeLatency": {"percentile": 99.9, "side": "server", "threshold": 0.3}
                    },
                    "receivers": [
                      {"name": "am", "url": "http://alert-bridge:8080/tcpulse"},
                      {"name": "ops", "url": "https://hooks.example.com/T0/B0/xyz", "format": "slack",
                       "headers": {"Authorization": "Bearer abc"}, "secretFile": "%s"}
                    ],
                    "delivery": {"initialBackoff": "500ms", "maxBackoff": "1m", "timeout": "5s", "clientErrorAttempts": 5}
                  }
                }
                """.formatted(secret));
        assertEquals("127.0.0.1", c.host());
        assertEquals(9471, c.port());
        assertEquals("/var/lib/tcpulse", c.stateDir());
        assertFalse(c.probeEnabled());
        assertEquals(100000, c.maxEventsPerSec());
        assertEquals(8388608, c.ringBytes());
        assertEquals(2, c.tickMs());
        assertEquals(90_000, c.maxOutageMillis());
        assertEquals(200, c.maxConnections());
        assertEquals(1000, c.walkIntervalMs());
        assertEquals(500, c.recentEvents());
        assertEquals("/etc/tcpulse/token", c.tokenFile());
        assertEquals(4096, c.maxRequestBytes());
        assertEquals(0, c.requestsPerSecond());
        assertEquals(List.of("https://grafana.example.com"), c.corsOrigins());
        AlertsConfig a = c.alerts();
        assertEquals(Duration.ofSeconds(2), a.evaluationInterval());
        assertEquals("https://tcpulse.example.com", a.externalUrl());
        AlertsConfig.Rule overflow = a.rules().get("acceptQueueOverflow");
        assertEquals(Duration.ofSeconds(10), overflow.forDuration());
        assertEquals(Duration.ofSeconds(30), overflow.duration("window"));
        assertEquals(5.0, overflow.threshold());
        assertEquals(5.0, overflow.clearBelow(), "same proportion as the defaults (1/1)");
        assertEquals("page", overflow.severity());
        assertFalse(a.rules().get("synFlood").enabled());
        assertEquals(0.85, a.rules().get("timeWaitExhaustion").clearBelow());
        assertEquals(250.0, a.rules().get("resetStorm").clearBelow(), "same proportion as the defaults (100/50)");
        assertEquals(Duration.ofMinutes(10), a.rules().get("closeWaitLeak").duration("minAge"));
        assertEquals(10.0, a.rules().get("closeWaitLeak").number("minCount"));
        assertEquals("server", a.rules().get("handshakeLatency").text("side"));
        assertEquals(99.9, a.rules().get("handshakeLatency").number("percentile"));
        assertEquals(AlertsConfig.BUILTIN.size(), a.rules().size(), "rules not mentioned keep their defaults");
        assertTrue(a.rules().get("acceptQueueFull").enabled());
        assertEquals(2, a.receivers().size());
        assertEquals("alertmanager", a.receivers().get(0).format());
        assertNull(a.receivers().get(0).secret());
        AlertsConfig.Receiver ops = a.receivers().get(1);
        assertEquals("slack", ops.format());
        assertEquals("k3y", ops.secret());
        assertEquals("Bearer abc", ops.headers().get("Authorization"));
        assertFalse(ops.toString().contains("k3y") || ops.toString().contains("xyz") || ops.toString().contains("abc"),
                ops.toString());
        assertEquals(new AlertsConfig.Delivery(Duration.ofMillis(500), Duration.ofMinutes(1), Duration.ofSeconds(5), 5),
                a.delivery());
    }

    @Test
    void defaultsAnnounceAnOverflowingListenerWithin30Seconds() {
        AlertsConfig a = Config.defaults().alerts();
        AlertsConfig.Rule r = a.rules().get("acceptQueueOverflow");
        // first seen at the next evaluation (plus a walk), pending for `for`, fired at the evaluation after
        Duration worst = a.evaluationInterval().plus(Duration.ofMillis(Config.defaults().walkIntervalMs()))
                .plus(r.forDuration()).plus(a.evaluationInterval());
        assertTrue(worst.compareTo(Duration.ofSeconds(30)) <= 0, worst.toString());
        assertTrue(a.rules().values().stream().allMatch(AlertsConfig.Rule::enabled));
        for (AlertsConfig.Rule rule : a.rules().values()) {
            if (rule.threshold() != null) assertTrue(rule.clearBelow() <= rule.threshold(), rule.name());
        }
    }

    @Test
    void webhookAndStateDirFlags() throws Exception {
        Config c = Config.parse(new String[] {"--webhook", "http://127.0.0.1:9093/hook", "--webhook", "https://b.example/x",
                "--state-dir", "rel/state"});
        assertEquals(List.of("webhook", "webhook-2"), c.alerts().receivers().stream().map(AlertsConfig.Receiver::name).toList());
        assertEquals("alertmanager", c.alerts().receivers().get(0).format());
        assertEquals("http://127.0.0.1:9093/hook", c.alerts().receivers().get(0).url());
        assertTrue(Path.of(c.stateDir()).isAbsolute());
        Config.ConfigException e = assertThrows(Config.ConfigException.class,
                () -> Config.parse(new String[] {"--webhook", "localhost:9093"}));
        assertEquals("--webhook must be an http:// or https:// URL, got \"localhost:9093\"", e.getMessage());
    }

    @Test
    void aReloadTellsWhatItPutsInForceFromWhatWaitsForARestart(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tcpulse.json");
        Files.writeString(file, """
                {"stateDir": "/var/lib/a", "probe": {"tickMs": 5}, "alerts": {"rules": {"resetStorm": {"threshold": 100}}}}""");
        Config running = Config.parse(new String[] {"--config", file.toString(), "--listen", "127.0.0.1:9470"});
        assertEquals(file.toString(), running.configFile());
        Files.writeString(file, """
                {"listen": "0.0.0.0:1", "stateDir": "/var/lib/b", "probe": {"tickMs": 7},
                 "http": {"tlsCert": "/c.pem", "tlsKey": "/k.pem", "corsOrigins": ["https://a.example"]},
                 "alerts": {"rules": {"resetStorm": {"threshold": 300}}}}""");
        Config next = running.reread();

        Config.Reload r = running.reload(next, true);
        // listen: --listen still wins over the file; TLS on is another socket; the outbox stays where it is
        assertEquals(List.of("http.corsOrigins", "alerts.rules.resetStorm"), r.changed());
        assertEquals(List.of("stateDir", "probe.tickMs", "http.tlsCert", "http.tlsKey"), r.restartRequired());
        Config applied = r.applied();
        assertEquals("127.0.0.1", applied.host());
        assertEquals(9470, applied.port());
        assertEquals("/var/lib/a", applied.stateDir());
        assertEquals(5, applied.tickMs());
        assertNull(applied.tlsCert());
        assertNull(applied.tlsKey());
        assertEquals(List.of("https://a.example"), applied.corsOrigins());
        assertEquals(300.0, applied.alerts().rules().get("resetStorm").threshold());
        assertEquals(running.args(), applied.args(), "the next reload reads the same file under the same flags");

        // alerts still in memory: nothing lives in the state directory yet, the new one is simply used
        Config.Reload fresh = running.reload(next, false);
        assertEquals(List.of("stateDir", "http.corsOrigins", "alerts.rules.resetStorm"), fresh.changed());
        assertEquals("/var/lib/b", fresh.applied().stateDir());
        Config.Reload same = next.reload(next.reread(), true);
        assertEquals(List.of(), same.changed(), "the same file again changes nothing");
        assertEquals(List.of(), same.restartRequired());
    }

    @Test
    void durationsReadAndWriteBack() {
        assertEquals(Duration.ofMillis(1500), Durations.parse("1s500ms"));
        assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
        assertEquals(Duration.ZERO, Durations.parse("0s"));
        assertNull(Durations.parse("-5s"));
        assertNull(Durations.parse("5"));
        assertNull(Durations.parse("5 m"));
        assertNull(Durations.parse(""));
        assertEquals("1h30m", Durations.format(Duration.ofMinutes(90)));
        assertEquals("500ms", Durations.format(Duration.ofMillis(500)));
        assertEquals("0s", Durations.format(Duration.ZERO));
    }
}
