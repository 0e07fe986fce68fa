package io.tcpulse.agent.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** alerts.alertmanagers and --alertmanager: URLs, names, auth, TLS CA, timeout, and their mistakes with lines. */
class AlertmanagerConfigTest {
    @TempDir Path dir;

    @Test
    void theFlagAddsAlertmanagersThatPostToTheirAlertsApi() throws Exception {
        Config c = Config.parse(new String[]{"--alertmanager", "http://am-a:9093", "--alertmanager", "http://am-b:9093/prefix/",
                "--webhook", "http://hooks.example/x"});
        List<AlertsConfig.Receiver> ams = c.alerts().alertmanagers();
        assertEquals(List.of("alertmanager", "alertmanager-2"), ams.stream().map(AlertsConfig.Receiver::name).toList());
        assertEquals("http://am-a:9093/api/v2/alerts", ams.get(0).url());
        assertEquals("http://am-b:9093/prefix/api/v2/alerts", ams.get(1).url());
        assertEquals(AlertsConfig.Receiver.ALERTMANAGER_API, ams.get(0).format());
        assertEquals(3, c.alerts().receivers().size());
        assertEquals(Duration.ofMinutes(1), c.alerts().resendInterval());
    }

    @Test
    void theFlagRefusesWhatIsNotAnHttpUrl() {
        Config.ConfigException e = assertThrows(Config.ConfigException.class,
                () -> Config.parse(new String[]{"--alertmanager", "am:9093"}));
        assertEquals("--alertmanager must be an http:// or https:// URL, got \"am:9093\"", e.getMessage());
    }

    @Test
    void aWebhookPointedAtAlertmanagersOwnApiIsRefusedWithTheFix() throws Exception {
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.parse(new String[]{"--webhook",
                "http://alertmanager.example:9093/api/v1/alerts-webhook"}));
        assertEquals("--webhook is Alertmanager's API, which takes no webhook payloads: make it an Alertmanager target"
                + " (alerts.alertmanagers url, or --alertmanager) with http://alertmanager.example:9093,"
                + " got \"http://alertmanager.example:9093/api/v1/alerts-webhook\"", e.getMessage());
        e = assertThrows(Config.ConfigException.class, () -> Config.fromYaml("""
                alerts:
                  receivers:
                    - url: http://am:9093/prefix/api/v2/alerts
                """));
        assertEquals("line 3: alerts.receivers[0].url is Alertmanager's API, which takes no webhook payloads: make it an"
                + " Alertmanager target (alerts.alertmanagers url, or --alertmanager) with http://am:9093/prefix", e.getMessage());
        assertEquals(1, Config.parse(new String[]{"--webhook", "http://bridge:8080/alerts"}).alerts().receivers().size());
    }

    @Test
    void basicAuthBearerTokenTlsCaAndTimeoutFromTheFile() throws Exception {
        Path pw = Files.writeString(dir.resolve("pw"), "s3cret\n");
        Path token = Files.writeString(dir.resolve("token"), "tok-123\n");
        Config c = Config.fromJson("""
                {"alerts": {
                  "resendInterval": "30s",
                  "alertmanagers": [
                    {"name": "am-a", "url": "https://am-a:9093", "basicAuth": {"username": "tcpulse", "passwordFile": "%s"},
                     "timeout": "3s"},
                    {"url": "http://am-b:9093", "bearerTokenFile": "%s"}
                  ]
                }}""".formatted(pw, token));
        List<AlertsConfig.Receiver> ams = c.alerts().alertmanagers();
        assertEquals("Basic " + Base64.getEncoder().encodeToString("tcpulse:s3cret".getBytes(StandardCharsets.UTF_8)),
                ams.get(0).headers().get("Authorization"));
        assertEquals(Duration.ofSeconds(3), ams.get(0).timeout());
        assertEquals("alertmanager", ams.get(1).name());
        assertEquals("Bearer tok-123", ams.get(1).headers().get("Authorization"));
        assertEquals(Duration.ofSeconds(30), c.alerts().resendInterval());
        assertFalse(ams.get(0).toString().contains("s3cret"));
    }

    @Test
    void mistakesAreReportedWithTheirLines() throws Exception {
        Path notPem = Files.writeString(dir.resolve("ca.pem"), "not a certificate");
        Config.ConfigException e = assertThrows(Config.ConfigException.class, () -> Config.fromJson("""
                {"alerts": {
                  "receivers": [{"name": "am", "url": "http://hooks.example/x"}],
                  "alertmanagers": [
                    {"url": "am:9093"},
                    {"name": "am", "url": "http://am-b:9093"},
                    {"url": "http://am-c:9093", "basicAuth": {"username": "u"}},
                    {"url": "http://am-d:9093", "tlsCaFile": "%s", "bearerTokenFile": "/nonexistent/token"},
                    {"url": "http://am-e:9093", "retries": 3}
                  ],
                  "resendInterval": "100ms"
                }}""".formatted(notPem)));
        List<String> p = e.problems();
        assertEquals("line 4: alerts.alertmanagers[0].url must be an http:// or https:// URL, got \"am:9093\"", p.get(0));
        assertEquals("line 5: alerts.alertmanagers[1].name \"am\" is already used by another receiver or Alertmanager", p.get(1));
        assertEquals("line 6: alerts.alertmanagers[2].basicAuth needs one of password and passwordFile", p.get(2));
        assertTrue(p.get(3).startsWith("line 7: alerts.alertmanagers[3].bearerTokenFile \"/nonexistent/token\" cannot be read"), p.get(3));
        assertTrue(p.get(4).startsWith("line 7: alerts.alertmanagers[3].tlsCaFile \"" + notPem + "\" is not a readable PEM"), p.get(4));
        assertTrue(p.get(5).startsWith("line 8: unknown key alerts.alertmanagers[4].retries"), p.get(5));
        assertEquals("line 10: alerts.resendInterval must be at least 1s, got \"100ms\"", p.get(6));
        assertEquals(7, p.size(), p.toString());
    }
}
