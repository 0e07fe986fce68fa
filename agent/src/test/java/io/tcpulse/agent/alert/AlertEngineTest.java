package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.config.AlertsConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/** The state machine, with a clock the test moves: for:, hysteresis, repeat, resolve, restart. */
class AlertEngineTest {
    private final Clock clock = new Clock();
    private final List<Notification> sent = new ArrayList<>();

    /** A rule whose values the test sets: culprit (port) -> value; absent culprits have no sample. */
    static final class Scripted implements Rule {
        final AlertsConfig.Rule settings;
        final Map<String, Double> values = new LinkedHashMap<>();
        Duration warmup = Duration.ZERO;

        Scripted(AlertsConfig.Rule settings) { this.settings = settings; }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return warmup; }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            List<Sample> out = new ArrayList<>();
            values.forEach((port, v) -> out.add(new Sample(Sample.labels("netns", NS, "port", port),
                    Sample.labels("comm", "nginx"), v, null, "queue of " + port, "value " + v)));
            return out;
        }
    }

    private AlertEngine engine(AlertEngine.StateStore store, Rule... rules) {
        return new AlertEngine(config(Duration.ofSeconds(5)), List.of(rules), clock, Map.of("host", "web-1"),
                sent::add, store);
    }

    private void tick(AlertEngine e, Duration d) {
        clock.advance(d);
        e.evaluate(empty());
    }

    @Test
    void twentyThousandCulpritsMakeAtMostTheCapAndOneAggregateAlert() {
        Scripted r = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = new AlertEngine(new AlertsConfig(Duration.ofSeconds(5), null, Map.of(), List.of(),
                AlertsConfig.Delivery.defaults(), 100, AlertsConfig.DEFAULT_RESEND), List.of(r), clock, Map.of("host", "web-1"), sent::add, null);
        for (int port = 1; port <= 20_000; port++) r.values.put(Integer.toString(port), 5.0);
        e.evaluate(empty());
        assertEquals(101, e.view().firing().size(), "100 culprits and the aggregate");
        assertEquals(101, sent.size());
        Notification others = sent.stream().filter(n -> "others".equals(n.labels().get("culprit"))).findFirst().orElseThrow();
        assertEquals(19_900, others.value());
        assertEquals("19900 more culprit(s) of overflow past the cap of 100 alerts", others.annotations().get("summary"));
        // the first hundred keep their place; a flap of everything does not make more notifications than the cap
        for (int i = 0; i < 10; i++) {
            r.values.replaceAll((k, v) -> 0.0);
            tick(e, Duration.ofSeconds(5));
            r.values.replaceAll((k, v) -> 5.0);
            tick(e, Duration.ofSeconds(5));
        }
        assertEquals(101 + 10 * 2 * 101, sent.size(), "each flap resolves and fires the 100 and the aggregate, no more");
        assertEquals(101, e.view().firing().size());
        // fewer culprits than the cap: the aggregate resolves
        r.values.clear();
        for (int port = 1; port <= 50; port++) r.values.put(Integer.toString(port), 5.0);
        tick(e, Duration.ofSeconds(5));
        assertEquals(50, e.view().firing().size());
        assertTrue(e.view().firing().stream().noneMatch(v -> v.identity().containsKey("culprit")));
    }

    @Test
    void firesOnlyAfterTheConditionHeldForItsForDuration() {
        Scripted r = new Scripted(rule("overflow", Duration.ofSeconds(15), 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 3.0);
        e.evaluate(empty()); // t=0: pending
        assertEquals(1, e.view().pending().size());
        assertEquals(List.of(), sent);
        tick(e, Duration.ofSeconds(10)); // t=10: still pending
        assertEquals(List.of(), sent);
        assertEquals(AlertEngine.State.PENDING, e.view().pending().get(0).state());
        tick(e, Duration.ofSeconds(5)); // t=15: fires
        assertEquals(1, sent.size());
        Notification n = sent.get(0);
        assertEquals(Notification.FIRING, n.status());
        assertEquals(T0, n.startsAt(), "startsAt is when the condition began, as in Prometheus");
        assertNull(n.endsAt());
        assertFalse(n.repeat());
        assertEquals("overflow", n.labels().get("alertname"));
        assertEquals("80", n.labels().get("port"));
        assertEquals("nginx", n.labels().get("comm"));
        assertEquals("web-1", n.labels().get("host"));
        assertEquals("warning", n.labels().get("severity"));
        assertEquals(Map.of("alertname", "overflow", "host", "web-1", "netns", Long.toString(NS), "port", "80"),
                n.groupLabels());
        assertEquals(16, n.fingerprint().length());
        assertEquals(1, e.view().firing().size());
        assertEquals(0, e.view().pending().size());
        // evaluations while it fires say nothing more
        for (int i = 0; i < 100; i++) tick(e, Duration.ofSeconds(5));
        assertEquals(1, sent.size());
    }

    @Test
    void aConditionThatStopsBeforeForNeverFires() {
        Scripted r = new Scripted(rule("overflow", Duration.ofSeconds(15), 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 3.0);
        e.evaluate(empty());
        tick(e, Duration.ofSeconds(10));
        r.values.put("80", 0.0);
        tick(e, Duration.ofSeconds(5));
        assertEquals(List.of(), e.view().pending());
        r.values.put("80", 3.0);
        tick(e, Duration.ofSeconds(5)); // pending again, from now
        tick(e, Duration.ofSeconds(10));
        assertEquals(List.of(), sent);
        tick(e, Duration.ofSeconds(5));
        assertEquals(1, sent.size());
        assertEquals(T0.plusSeconds(20), sent.get(0).startsAt());
    }

    @Test
    void forZeroFiresAtTheFirstEvaluation() {
        Scripted r = new Scripted(rule("drops", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 1.0);
        e.evaluate(empty());
        assertEquals(1, sent.size());
    }

    @Test
    void hysteresisKeepsAValueHoveringAtTheThresholdFromFlapping() {
        Scripted r = new Scripted(rule("ratio", Duration.ZERO, 0.8, 0.7, Duration.ofHours(4)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 0.79);
        e.evaluate(empty());
        assertEquals(List.of(), sent, "below the threshold: nothing");
        double[] hovering = {0.81, 0.79, 0.80, 0.75, 0.81, 0.71, 0.70, 0.79};
        for (double v : hovering) {
            r.values.put("80", v);
            tick(e, Duration.ofSeconds(5));
        }
        assertEquals(List.of("firing"), statuses(), "fires once, stays firing down to clearBelow");
        r.values.put("80", 0.69);
        tick(e, Duration.ofSeconds(5));
        assertEquals(List.of("firing", "resolved"), statuses());
        Notification resolved = sent.get(1);
        assertEquals(sent.get(0).fingerprint(), resolved.fingerprint());
        assertEquals(sent.get(0).startsAt(), resolved.startsAt());
        assertEquals(clock.instant(), resolved.endsAt());
        assertEquals(0.79, resolved.value(), 1e-9, "a resolved alert keeps the figures of its last active evaluation");
        // back to 0.79: below the threshold again, so nothing
        r.values.put("80", 0.79);
        tick(e, Duration.ofSeconds(5));
        assertEquals(2, sent.size());
        assertEquals(1, e.view().recent().size());
        assertEquals(AlertEngine.State.RESOLVED, e.view().recent().get(0).state());
    }

    @Test
    void repeatsAtTheRepeatIntervalWhileFiring() {
        Scripted r = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofMinutes(30)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 5.0);
        e.evaluate(empty());
        for (int i = 0; i < 12 * 60; i++) tick(e, Duration.ofSeconds(5)); // one hour
        assertEquals(3, sent.size(), "at 0, 30 min and 60 min");
        assertEquals(List.of(false, true, true), sent.stream().map(Notification::repeat).toList());
        assertEquals(Set.of(T0), sent.stream().map(Notification::startsAt).collect(Collectors.toSet()));
        assertEquals(1, sent.stream().map(Notification::fingerprint).distinct().count());
        assertEquals(3, sent.stream().map(Notification::id).distinct().count(), "each notification its own idempotency key");
    }

    @Test
    void aCulpritThatDisappearsResolves() {
        Scripted r = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = engine(null, r);
        r.values.put("80", 5.0);
        e.evaluate(empty());
        r.values.clear(); // the listener closed
        tick(e, Duration.ofSeconds(5));
        assertEquals(List.of("firing", "resolved"), statuses());
        assertEquals(List.of(), e.view().firing());
    }

    @Test
    void oneNotificationPerRuleAndCulprit() {
        Scripted a = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        Scripted b = new Scripted(rule("full", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        AlertEngine e = engine(null, a, b);
        a.values.put("80", 5.0);
        a.values.put("443", 9.0);
        b.values.put("80", 1.0);
        for (int i = 0; i < 50; i++) tick(e, Duration.ofSeconds(5));
        assertEquals(3, sent.size());
        assertEquals(3, sent.stream().map(Notification::fingerprint).distinct().count());
        assertEquals(Set.of("overflow/80", "overflow/443", "full/80"),
                sent.stream().map(n -> n.rule() + "/" + n.labels().get("port")).collect(Collectors.toSet()));
    }

    @Test
    void verdictSamplesUseTheirConditionAndNaNIsQuiet() {
        AlertsConfig.Rule cfg = rule("verdict", Duration.ZERO, null, null, Duration.ofHours(4));
        boolean[] on = {true};
        Rule r = new Rule() {
            @Override public AlertsConfig.Rule settings() { return cfg; }

            @Override public List<Sample> evaluate(Snapshot s, long now) {
                return List.of(new Sample(Sample.labels("port", 80), new TreeMap<>(), 0.5, on[0], "s", "d"),
                        new Sample(Sample.labels("port", 81), new TreeMap<>(), Double.NaN, null, "s", "d"));
            }
        };
        AlertEngine e = engine(null, r);
        e.evaluate(empty());
        assertEquals(List.of("firing"), statuses());
        on[0] = false;
        tick(e, Duration.ofSeconds(5));
        assertEquals(List.of("firing", "resolved"), statuses());
    }

    @Test
    void aFailingRuleDoesNotStopTheOthers() {
        AlertsConfig.Rule cfg = rule("broken", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4));
        Rule broken = new Rule() {
            @Override public AlertsConfig.Rule settings() { return cfg; }

            @Override public List<Sample> evaluate(Snapshot s, long now) { throw new IllegalStateException("boom"); }
        };
        Scripted ok = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        ok.values.put("80", 2.0);
        AlertEngine e = engine(null, broken, ok);
        e.evaluate(empty());
        assertEquals(List.of("firing"), statuses());
    }

    @Test
    void afterARestartFiringAlertsAreNotAnnouncedAgain(@TempDir Path dir) throws Exception {
        AlertStore store = new AlertStore(dir.resolve("alerts.json"));
        Scripted r = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofMinutes(30)));
        r.warmup = Duration.ofSeconds(10);
        AlertEngine first = engine(store, r);
        r.values.put("80", 5.0);
        r.values.put("81", 5.0);
        first.evaluate(empty());
        assertEquals(2, sent.size());
        String fingerprint = sent.get(0).fingerprint();
        sent.clear();

        // the agent restarts 20 s later; its counter windows are empty, so "80" has no sample yet
        clock.advance(Duration.ofSeconds(20));
        Scripted again = new Scripted(r.settings);
        again.warmup = Duration.ofSeconds(10);
        again.values.put("81", 5.0);
        AlertEngine second = engine(store, again);
        AlertStore.Loaded loaded = store.load();
        assertEquals(2, loaded.firing().size());
        second.restore(loaded.firing(), loaded.recent());
        second.evaluate(empty());
        assertEquals(List.of(), sent, "still firing: not announced again");
        assertEquals(2, second.view().firing().size(), "no data for 80 within the warm-up: it keeps firing");
        assertEquals(T0, second.view().firing().get(0).since());
        assertTrue(second.view().firing().stream().anyMatch(a -> a.fingerprint().equals(fingerprint)));

        // past warm-up + one interval (15 s), 80 still has no sample: resolved, once
        tick(second, Duration.ofSeconds(16));
        assertEquals(List.of("resolved"), statuses());
        assertEquals("80", sent.get(0).labels().get("port"));
        assertEquals(T0, sent.get(0).startsAt());
        // the repeat interval runs from the last notification before the restart
        sent.clear();
        while (sent.isEmpty() && clock.instant().isBefore(T0.plus(Duration.ofMinutes(31)))) tick(second, Duration.ofSeconds(5));
        assertEquals(List.of("firing"), statuses());
        assertTrue(sent.get(0).repeat());
        java.time.Instant at = sent.get(0).createdAt();
        assertFalse(at.isBefore(T0.plus(Duration.ofMinutes(30))), at.toString());
        assertTrue(at.isBefore(T0.plus(Duration.ofMinutes(30)).plusSeconds(5)), at.toString());
    }

    @Test
    void anAlertOfARuleDisabledSinceTheLastRunResolves(@TempDir Path dir) throws Exception {
        AlertStore store = new AlertStore(dir.resolve("alerts.json"));
        Scripted r = new Scripted(rule("overflow", Duration.ZERO, 1.0, 1.0, Duration.ofHours(4)));
        r.values.put("80", 5.0);
        engine(store, r).evaluate(empty());
        sent.clear();
        AlertEngine second = engine(store); // no rules
        AlertStore.Loaded loaded = store.load();
        second.restore(loaded.firing(), loaded.recent());
        tick(second, Duration.ofSeconds(5));
        assertEquals(List.of("resolved"), statuses());
        assertEquals(List.of(), store.load().firing());
    }

    private List<String> statuses() {
        return sent.stream().map(Notification::status).toList();
    }
}
