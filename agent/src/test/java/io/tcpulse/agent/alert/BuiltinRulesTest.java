package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.Carried;
import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.PeerReport;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.TimeWaitReport;
import io.tcpulse.agent.config.AlertsConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.tcpulse.agent.alert.TestData.*;
import static org.junit.jupiter.api.Assertions.*;

/** Each built-in rule on hand-built snapshots, and the defaults through the engine. */
class BuiltinRulesTest {
    private final AlertsConfig defaults = AlertsConfig.defaults();

    private Rule rule(String name) {
        return BuiltinRules.create(defaults, true).stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
    }

    private static long at(int seconds) {
        return T0.toEpochMilli() + seconds * 1000L;
    }

    @Test
    void everyBuiltinRuleHasAnImplementation() {
        assertEquals(AlertsConfig.BUILTIN.size(), BuiltinRules.create(defaults, true).size());
    }

    @Test
    void acceptQueueOverflowCountsWithinItsWindowAndNamesTheListenerAndOwner() {
        Rule r = rule("acceptQueueOverflow"); // window 10s
        Parts p = Parts.empty();
        assertEquals(0, r.evaluate(p.listeners(listener(8080, 1000, "ok")).snapshot(), at(0)).get(0).value(),
                "overflows from before the agent looked are not in the window");
        assertEquals(45, r.evaluate(p.listeners(listener(8080, 1045, "ok")).snapshot(), at(5)).get(0).value());
        assertEquals(50, r.evaluate(p.listeners(listener(8080, 1050, "ok")).snapshot(), at(10)).get(0).value());
        assertEquals(5, r.evaluate(p.listeners(listener(8080, 1050, "ok")).snapshot(), at(15)).get(0).value());
        Sample s = r.evaluate(p.listeners(listener(8080, 1050, "ok")).snapshot(), at(20)).get(0);
        assertEquals(0, s.value());
        assertEquals(Map.of("netns", Long.toString(NS), "addr", "10.0.0.1", "port", "8080"), s.identity());
        assertEquals(Map.of("pid", "4242", "comm", "nginx", "unit", "nginx.service"), s.details());
        assertTrue(s.summary().contains("10.0.0.1:8080") && s.summary().contains("nginx"), s.summary());
        assertTrue(s.description().contains("limit 128"), s.description());
    }

    @Test
    void aListenerThatKeepsOverflowingIsAnnouncedWithin30sWithDefaults() {
        Clock clock = new Clock();
        List<Notification> sent = new ArrayList<>();
        AlertEngine e = new AlertEngine(defaults, BuiltinRules.create(defaults, true), clock, Map.of(), sent::add, null);
        long overflows = 0;
        e.evaluate(Parts.empty().listeners(listener(8080, overflows, "ok")).snapshot());
        // overflows start right after an evaluation: the worst case for the announcement
        Duration elapsed = Duration.ZERO;
        while (sent.isEmpty() && elapsed.compareTo(Duration.ofMinutes(1)) < 0) {
            clock.advance(defaults.evaluationInterval());
            elapsed = elapsed.plus(defaults.evaluationInterval());
            overflows += 20;
            e.evaluate(Parts.empty().listeners(listener(8080, overflows, "ok")).snapshot());
        }
        assertEquals(1, sent.size());
        assertEquals("acceptQueueOverflow", sent.get(0).rule());
        assertTrue(elapsed.compareTo(Duration.ofSeconds(30)) <= 0, "announced after " + elapsed);
        // it stops: resolved once the window holds no overflow
        for (int i = 0; i < 4; i++) {
            clock.advance(defaults.evaluationInterval());
            e.evaluate(Parts.empty().listeners(listener(8080, overflows, "ok")).snapshot());
        }
        assertEquals(List.of("firing", "resolved"), sent.stream().map(Notification::status).toList());
    }

    @Test
    void listenerVerdicts() {
        Rule full = rule("acceptQueueFull");
        Rule flood = rule("synFlood");
        Snapshot s = Parts.empty().listeners(listener(80, 0, ListenerStatus.VERDICT_ACCEPT_QUEUE_FULL),
                listener(443, 0, ListenerStatus.VERDICT_SYN_FLOOD), listener(22, 0, ListenerStatus.VERDICT_OK)).snapshot();
        assertEquals(List.of(true, false, false), full.evaluate(s, at(0)).stream().map(Sample::condition).toList());
        List<Sample> f = flood.evaluate(s, at(0));
        assertEquals(List.of(false, true, false), f.stream().map(Sample::condition).toList());
        assertEquals("on", f.get(1).details().get("syncookies"));
        assertEquals(3.0, f.get(1).value(), "the SYN queue length");
    }

    @Test
    void synQueueDropsOnlyWhereSyncookiesAreOff() {
        Rule r = rule("synQueueDrops");
        ListenerStatus cookiesOn = listener(80, 0, "ok");
        ListenerStatus cookiesOff = new ListenerStatus(NS + 1, "10.0.0.2", 443, 0, 128, 256, 256, 0, 0, 9, 0, 0,
                OWNER, false, ListenerStatus.VERDICT_SYN_FLOOD);
        Parts p = Parts.empty().listeners(cookiesOn, cookiesOff);
        r.evaluate(p.netstat(Map.of(NS, Map.of("TCPReqQFullDrop", 10L), NS + 1, Map.of("TCPReqQFullDrop", 10L))).snapshot(), at(0));
        List<Sample> out = r.evaluate(p.netstat(Map.of(NS, Map.of("TCPReqQFullDrop", 50L),
                NS + 1, Map.of("TCPReqQFullDrop", 17L))).snapshot(), at(5));
        assertEquals(1, out.size(), "with syncookies on, drops are cookies being sent: not an alert");
        Sample s = out.get(0);
        assertEquals(7, s.value());
        assertEquals(Map.of("netns", Long.toString(NS + 1)), s.identity());
        assertEquals("443", s.details().get("port"));
        assertEquals("nginx", s.details().get("comm"));
    }

    @Test
    void timeWaitExhaustionAndOverflow() {
        TimeWaitReport tw = new TimeWaitReport(3000, 50, List.of(
                new TimeWaitReport.Remote("10.0.0.9:5432", "10.0.0.1", 3000, 3000, 4000, 0.75, 20.0)),
                List.of(), 262144, 4);
        List<Sample> ex = rule("timeWaitExhaustion").evaluate(Parts.empty().timewait(Map.of(NS, tw)).snapshot(), at(0));
        assertEquals(0.75, ex.get(0).value());
        assertEquals(Map.of("netns", Long.toString(NS), "remote", "10.0.0.9:5432", "local", "10.0.0.1"), ex.get(0).identity());
        assertTrue(ex.get(0).description().contains("3000 of 4000"), ex.get(0).description());

        Rule of = rule("timeWaitOverflow");
        assertEquals(0, of.evaluate(Parts.empty().timewait(Map.of(NS, tw)).snapshot(), at(0)).get(0).value());
        TimeWaitReport more = new TimeWaitReport(3000, 50, List.of(), List.of(), 262144, 10);
        assertEquals(6, of.evaluate(Parts.empty().timewait(Map.of(NS, more)).snapshot(), at(5)).get(0).value());
    }

    @Test
    void closeWaitLeakByOwner() {
        Rule r = rule("closeWaitLeak"); // minAge 5m, minCount 1
        CloseWaitReport cw = new CloseWaitReport(12, List.of(
                new CloseWaitReport.ByOwner(4242, "java", "app.service", 10, 30, 12, true, List.of()),
                new CloseWaitReport.ByOwner(77, "python", "", 1, 600, 0, false, List.of()),
                new CloseWaitReport.ByOwner(78, "ruby", "", 1, 20, 0, false, List.of())));
        List<Sample> out = r.evaluate(Parts.empty().closewait(Map.of(NS, cw)).snapshot(), at(0));
        assertEquals(List.of(true, true, false), out.stream().map(Sample::condition).toList(),
                "leaking, older than minAge, neither");
        assertEquals(Map.of("netns", Long.toString(NS), "pid", "4242", "comm", "java", "unit", "app.service"),
                out.get(0).identity());
        assertEquals(10, out.get(0).value());
    }

    @Test
    void resetStormPerNamespaceAndPort() {
        Rule r = rule("resetStorm"); // window 1m
        ListenerStatus l0 = new ListenerStatus(NS, "10.0.0.1", 80, 0, 128, 0, 256, 0, 0, 0, 0, 0, OWNER, true, "ok");
        ListenerStatus l1 = new ListenerStatus(NS, "10.0.0.1", 80, 0, 128, 0, 256, 0, 0, 0, 6000, 3000, OWNER, true, "ok");
        assertEquals(List.of(), r.evaluate(Parts.empty().listeners(l0).resets(Map.of(NS, new Snapshot.Resets(0, 0))).snapshot(), at(0)),
                "no rate from one sample");
        List<Sample> out = r.evaluate(Parts.empty().listeners(l1).resets(Map.of(NS, new Snapshot.Resets(9000, 3000))).snapshot(), at(60));
        assertEquals(2, out.size());
        assertEquals(200, out.get(0).value(), 1e-9);
        assertEquals(Map.of("netns", Long.toString(NS)), out.get(0).identity());
        assertEquals(150, out.get(1).value(), 1e-9);
        assertEquals("80", out.get(1).identity().get("port"));
    }

    @Test
    void handshakeLatencyPercentileWithinTheWindow() {
        Rule r = rule("handshakeLatency"); // p99, window 5m, minCount 20, both sides
        Latency before = Latency.empty();
        for (int i = 0; i < 1000; i++) before.handshakeServer().record(100_000L, 1); // 100 us
        Latency after = before.copy();
        for (int i = 0; i < 100; i++) after.handshakeServer().record(3_000_000_000L, 1); // 3 s: retransmitted SYN-ACKs
        for (int i = 0; i < 5; i++) after.handshakeClient().record(3_000_000_000L, 1);
        r.evaluate(Parts.empty().latency(Map.of(NS, before)).snapshot(), at(0));
        List<Sample> out = r.evaluate(Parts.empty().latency(Map.of(NS, after)).snapshot(), at(10));
        Sample server = out.stream().filter(s -> s.identity().get("side").equals("server")).findFirst().orElseThrow();
        assertTrue(server.value() > 2 && server.value() <= 4.2, "p99 of the window's handshakes: " + server.value());
        Sample client = out.stream().filter(s -> s.identity().get("side").equals("client")).findFirst().orElseThrow();
        assertTrue(Double.isNaN(client.value()), "5 handshakes < minCount: nothing to say");
        // nothing new for longer than the window: no handshakes to measure, nothing to say
        assertTrue(Double.isNaN(r.evaluate(Parts.empty().latency(Map.of(NS, after)).snapshot(), at(400)).get(0).value()));
    }

    @Test
    void theAgentItself() {
        Rule lost = rule("eventsLost");
        lost.evaluate(Parts.empty().health(health(true, 100)).snapshot(), at(0));
        assertEquals(50, lost.evaluate(Parts.empty().health(health(true, 150)).snapshot(), at(5)).get(0).value());

        Rule probe = rule("probeUnavailable");
        assertEquals(true, probe.evaluate(Parts.empty().health(health(false, 0)).snapshot(), at(0)).get(0).condition());
        assertEquals(false, probe.evaluate(Parts.empty().health(health(true, 0)).snapshot(), at(0)).get(0).condition());
        Rule quiet = BuiltinRules.create(defaults, false).stream().filter(x -> x.name().equals("probeUnavailable"))
                .findFirst().orElseThrow();
        assertEquals(false, quiet.evaluate(Parts.empty().health(health(false, 0)).snapshot(), at(0)).get(0).condition(),
                "--no-probe was asked for: not an alert");
    }

    /** A destination as PeerTable reports it: every reason present, zeros included. */
    private static PeerReport peer(String remote, long connects, Map<String, Long> failed, Carried carried) {
        Map<String, Long> all = new java.util.LinkedHashMap<>();
        for (String reason : List.of("refused", "timeout", "unreachable", "reset", "other")) all.put(reason, failed.getOrDefault(reason, 0L));
        return new PeerReport(remote, Map.of(), connects, connects, all,
                List.of(new PeerReport.Owner(4242, "curl", "backup.service")), carried);
    }

    @Test
    void connectFailuresAreARatioOfTheWindowsConnectsWithTheCommonestReason() {
        Rule r = rule("connectFailures"); // window 5m, minConnects 10
        Parts p = Parts.empty();
        assertTrue(r.evaluate(p.peers(peer("[2001:db8::1]:443", 100, Map.of("refused", 50L), Carried.of(0, 0, 0, 0))).snapshot(), at(0))
                .stream().allMatch(x -> Double.isNaN(x.value())), "what happened before the agent looked says nothing");
        List<Sample> few = r.evaluate(p.peers(peer("[2001:db8::1]:443", 109, Map.of("refused", 58L), Carried.of(0, 0, 0, 0))).snapshot(), at(60));
        assertTrue(Double.isNaN(few.get(0).value()), "9 connects in the window: fewer than minConnects");
        Sample s = r.evaluate(p.peers(peer("[2001:db8::1]:443", 120, Map.of("refused", 60L, "timeout", 1L),
                Carried.of(0, 0, 0, 0))).snapshot(), at(120)).get(0);
        // 20 connects in the window; 10 refused + 1 timeout failed
        assertEquals(11.0 / 20, s.value(), 1e-9);
        assertEquals(Map.of("netns", Long.toString(NS), "remote", "[2001:db8::1]:443"), s.identity());
        assertEquals("refused", s.details().get("reason"));
        assertEquals("curl", s.details().get("comm"));
        assertTrue(s.summary().contains("55% of connects failing, mostly refused"), s.summary());
        assertTrue(s.description().startsWith("11 of 20 connects to [2001:db8::1]:443"), s.description());
        assertTrue(s.description().contains("(10 refused, 1 timeout)"), s.description());
        // the window slides past the failures: the ratio falls with the next healthy connects
        Sample later = r.evaluate(p.peers(peer("[2001:db8::1]:443", 140, Map.of("refused", 60L, "timeout", 1L),
                Carried.of(0, 0, 0, 0))).snapshot(), at(420)).get(0);
        assertEquals(0.0, later.value(), "only the 20 healthy connects of the last 5m");
    }

    @Test
    void connectFailureRateIsPerSecondOverItsWindow() {
        Rule r = rule("connectFailureRate"); // window 1m
        Parts p = Parts.empty();
        r.evaluate(p.peers(peer("10.0.0.9:80", 0, Map.of("timeout", 0L), Carried.of(0, 0, 0, 0))).snapshot(), at(0));
        Sample s = r.evaluate(p.peers(peer("10.0.0.9:80", 90, Map.of("timeout", 90L), Carried.of(0, 0, 0, 0))).snapshot(), at(30)).get(0);
        assertEquals(3.0, s.value(), 1e-9);
        assertEquals("timeout", s.details().get("reason"));
        assertTrue(s.summary().contains("3 failed connects/s"), s.summary());
    }

    @Test
    void retransmitRatioPerDestinationAndPerListenerPortAboveMinSegments() {
        Rule r = rule("retransmitRatio"); // window 5m, minSegments 1000
        ListenerStatus l = listener(8080, 0, "ok");
        ListenerStatus sameGroup = listener(8080, 0, "ok");
        java.util.function.BiFunction<Long, Long, ListenerStatus.Children> children = (re, seg) ->
                new ListenerStatus.Children(Map.of(), 10, Carried.of(re, seg, 0, 0));
        Parts p0 = Parts.empty().peers(peer("10.0.0.7:5432", 1, Map.of(), Carried.of(5, 100, 0, 0)))
                .listeners(l.withChildren(children.apply(0L, 0L)), sameGroup.withChildren(children.apply(0L, 0L)));
        assertEquals(List.of(), r.evaluate(p0.snapshot(), at(0)), "no window yet: nothing to say");
        Parts p1 = Parts.empty().peers(peer("10.0.0.7:5432", 1, Map.of(), Carried.of(35, 1100, 0, 0)))
                .listeners(l.withChildren(children.apply(4L, 999L)), sameGroup.withChildren(children.apply(4L, 999L)));
        List<Sample> out = r.evaluate(p1.snapshot(), at(60));
        assertEquals(1, out.size(), "the listener sent 999 segments, fewer than minSegments: " + out);
        assertEquals(0.03, out.get(0).value(), 1e-9, "30 of 1000 segments in the window");
        assertEquals("10.0.0.7:5432", out.get(0).identity().get("remote"));
        assertTrue(out.get(0).summary().contains("3% of segments"), out.get(0).summary());
        Parts p2 = Parts.empty().peers(peer("10.0.0.7:5432", 1, Map.of(), Carried.of(35, 1100, 0, 0)))
                .listeners(l.withChildren(children.apply(54L, 2999L)), sameGroup.withChildren(children.apply(54L, 2999L)));
        out = r.evaluate(p2.snapshot(), at(120));
        Sample port = out.stream().filter(x -> x.identity().containsKey("port")).findFirst().orElseThrow();
        assertEquals(1, out.stream().filter(x -> x.identity().containsKey("port")).count(), "a port's connections once");
        assertEquals(54.0 / 2999, port.value(), 1e-9);
        assertEquals("nginx", port.details().get("comm"));
    }

    @Test
    void disabledRulesAreNotEvaluated() throws Exception {
        AlertsConfig c = io.tcpulse.agent.config.Config.fromJson(
                "{\"alerts\": {\"rules\": {\"synFlood\": {\"enabled\": false}}}}").alerts();
        assertTrue(BuiltinRules.create(c, true).stream().noneMatch(r -> r.name().equals("synFlood")));
    }

    @Test
    void ownerWording() {
        assertEquals("an unknown process", BuiltinRules.owner(OwnerInfo.UNKNOWN));
        assertEquals("nginx (pid 4242, unit nginx.service)", BuiltinRules.owner(OWNER));
        assertEquals("[::1]:80", BuiltinRules.endpoint("::1", 80));
    }
}
