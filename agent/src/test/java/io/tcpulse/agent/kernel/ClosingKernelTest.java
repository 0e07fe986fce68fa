package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/** The closing side against ss and the namespace's own counters. */
@KernelTest
@AgentOptions({"--walk-interval-ms", "300"})
class ClosingKernelTest {
    private final Main.Agent agent;

    ClosingKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    JsonObject api(String path) {
        try {
            return getJson(agent.port(), path);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void timeWaitLedgerMatchesSsAndForecastsPortExhaustion(Netns ns) throws Exception {
        long inode = ns.inode();
        ns.sysctl("net.ipv4.ip_local_port_range", "30000 33999"); // 4,000 ports
        ns.sysctl("net.ipv4.tcp_tw_reuse", "0"); // no port taken back from TIME_WAIT: all 3,000 stay
        ns.serve("--port", "8401", "--backlog", "4096"); // no accept-queue overflow under CPU contention
        String run = ns.exec(stormTool(), "connect", "--port", "8401", "--count", "3000", "--close", "client");
        // the server closes on reading EOF: wait until every close has finished (only the
        // listener and TIME_WAIT left). Under load a few of the 3,000 connects may time
        // out; ss is the ground truth
        await(Duration.ofSeconds(20), () -> {
            Map<String, Long> states = ns.ssCounts();
            return states.keySet().equals(java.util.Set.of("LISTEN", "TIME_WAIT"));
        }, () -> "ss still closing: " + ns.ssCounts());
        long ss = timeWaitInSs(ns);
        assertTrue(ss >= 2900, "TIME_WAIT in ss: " + ss + " after " + run + ", TcpExt " + ns.tcpExt());
        // the agent re-reads the namespace's port range every 5 s: until it sees the new
        // range, ports below 32768 do not count as outbound. Wait for the whole ledger
        await(Duration.ofSeconds(10), () -> {
            JsonObject t = api("/api/v1/timewait?netns=" + inode);
            JsonArray by = t.getJsonArray("byRemote");
            return t.getLong("total") == ss && !by.isEmpty() && by.getJsonObject(0).getLong("count") == ss
                    && by.getJsonObject(0).getLong("portRange") == 4000;
        }, () -> "timewait " + api("/api/v1/timewait?netns=" + inode).encode() + " vs ss " + ss);
        JsonObject tw = api("/api/v1/timewait?netns=" + inode);
        JsonObject top = tw.getJsonArray("byRemote").getJsonObject(0);
        assertEquals("127.0.0.1:8401", top.getString("remote"));
        assertEquals("127.0.0.1", top.getString("local"));
        assertEquals(ss, top.getLong("count"));
        assertEquals(ss, top.getLong("portsInUse"));
        assertEquals(4000, top.getLong("portRange"));
        assertEquals(ss / 4000.0, top.getDouble("exhaustion"), 1e-9); // ports in use / range
        String metrics = get(agent.port(), "/metrics").body();
        assertTrue(metrics.contains("tcpulse_timewait_sockets{netns=\"" + inode + "\"} " + ss), "metric");
        assertTrue(metrics.contains("tcpulse_timewait_port_exhaustion_ratio{netns=\"" + inode + "\",remote=\"127.0.0.1:8401\"} 0.7"),
                "exhaustion metric");
    }

    /** Issue 14: addresses as people read them: an IPv6 destination is "[::1]:8402", not "0:0:0:0:0:0:0:1:8402". */
    @Test
    void anIpv6DestinationIsWrittenInBracketsInTheLedgerAndItsMetric(Netns ns) throws Exception {
        long inode = ns.inode();
        ns.serve("--addr", "::1", "--port", "8402");
        ns.exec(stormTool(), "connect", "--addr", "::1", "--port", "8402", "--count", "20", "--close", "client");
        await(Duration.ofSeconds(20), () -> ns.ssCounts().keySet().equals(java.util.Set.of("LISTEN", "TIME_WAIT")),
                () -> "ss still closing: " + ns.ssCounts());
        long ss = timeWaitInSs(ns);
        await(Duration.ofSeconds(10), () -> {
            JsonArray by = api("/api/v1/timewait?netns=" + inode).getJsonArray("byRemote");
            return !by.isEmpty() && by.getJsonObject(0).getLong("count") == ss;
        }, () -> "timewait " + api("/api/v1/timewait?netns=" + inode).encode() + " vs ss " + ss);
        JsonObject top = api("/api/v1/timewait?netns=" + inode).getJsonArray("byRemote").getJsonObject(0);
        assertEquals("[::1]:8402", top.getString("remote"));
        assertEquals("::1", top.getString("local"));
        assertTrue(get(agent.port(), "/metrics").body().contains("tcpulse_timewait_port_exhaustion_ratio{netns=\"" + inode
                + "\",remote=\"[::1]:8402\"}"), "the metric label says it the same way");
    }

    static long timeWaitInSs(Netns ns) {
        try {
            return ns.exec("ss", "-tanH", "state", "time-wait").lines().filter(l -> !l.isBlank()).count();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void closeWaitSocketsAreReportedUnderTheirOwnerUntilClosed(Netns ns) throws Exception {
        long inode = ns.inode();
        Process server = ns.serve("--port", "8402", "--never-close");
        ns.exec(stormTool(), "connect", "--port", "8402", "--count", "7", "--close", "client");
        // all 7 reported, the oldest for a second at least (the age is what is checked)
        JsonObject cw = Wait.until(Duration.ofSeconds(10), () -> api("/api/v1/closewait?netns=" + inode + "&sockets=true"),
                c -> c.getLong("total") == 7 && c.getJsonArray("byOwner").stream()
                        .anyMatch(o -> ((JsonObject) o).getDouble("oldestAgeSeconds") >= 1.0),
                c -> "closewait " + c.encode());
        JsonArray owners = cw.getJsonArray("byOwner");
        assertEquals(1, owners.size(), cw.encode());
        JsonObject o = owners.getJsonObject(0);
        assertEquals(server.pid(), o.getLong("pid"));
        assertEquals("tcpulse-storm", o.getString("comm"));
        assertEquals(7, o.getLong("count"));
        assertTrue(o.getDouble("oldestAgeSeconds") >= 1.0 && o.getDouble("oldestAgeSeconds") < 30, o.encode());
        assertEquals(7, o.getJsonArray("sockets").size());
        assertEquals(ns.ssCounts().get("CLOSE_WAIT"), 7L);
        // the server closes them: they leave the report
        new ProcessBuilder("kill", "-USR1", Long.toString(server.pid())).start().waitFor();
        await(Duration.ofSeconds(10), () -> api("/api/v1/closewait?netns=" + inode).getLong("total") == 0
                        && api("/api/v1/closewait?netns=" + inode).getJsonArray("byOwner").isEmpty(),
                () -> "closewait after close " + api("/api/v1/closewait?netns=" + inode).encode());
    }

    @Test
    void resetsToAClosedPortAndFromAbortiveClosesAreCounted(Netns ns) throws Exception {
        long inode = ns.inode();
        ns.serve("--port", "8403");
        Map<String, Long> before = ns.snmpTcp();
        // nobody listens on 8404: each SYN is answered with a RST
        ns.exec(stormTool(), "connect", "--port", "8404", "--count", "3", "--close", "client");
        // SO_LINGER 0: each close() aborts with a RST
        ns.exec(stormTool(), "connect", "--port", "8403", "--count", "4", "--close", "rst");
        long outRsts = ns.snmpTcp().get("OutRsts") - before.get("OutRsts");
        assertEquals(7, outRsts, "ground truth: OutRsts");
        await(Duration.ofSeconds(5), () -> api("/api/v1/resets?netns=" + inode).getLong("sent") == 7
                        && api("/api/v1/resets?netns=" + inode).getLong("received") == 7,
                () -> "resets " + api("/api/v1/resets?netns=" + inode).encode());
        JsonArray events = api("/api/v1/events?netns=" + inode + "&limit=1000").getJsonArray("events");
        long refused = events.stream().map(JsonObject.class::cast)
                .filter(e -> "RESET_SENT".equals(e.getString("kind")) && e.getInteger("localPort") == 8404).count();
        assertEquals(3, refused, "RSTs from the closed port carry its port");
        long byPeer = api("/api/v1/resets?netns=" + inode).getJsonArray("byPeer").stream().map(JsonObject.class::cast)
                .filter(p -> p.getInteger("localPort") == 8404 && "sent".equals(p.getString("direction")))
                .mapToLong(p -> p.getLong("count")).sum();
        assertEquals(3, byPeer, "RSTs per peer and local port");
    }

    /**
     * A storm of abortive closes: stray segments to closed connections are answered with
     * RSTs at ephemeral ports. Those share one counter (port 0) instead of making one per
     * port, and the totals stay exact.
     */
    @Test
    void resetsAtEphemeralPortsShareOneCounter(Netns ns) throws Exception {
        long inode = ns.inode();
        Map<String, Long> before = ns.snmpTcp();
        // an older namespace with the same inode may still be torn down, RSTs and all:
        // only this namespace's cookie counts
        long cookie = io.tcpulse.agent.probe.Probe.netnsCookie(ns.path());
        assertNotEquals(0, cookie, "SO_NETNS_COOKIE of the namespace");
        long missesBefore = resetMisses();
        ns.exec(stormTool(), "storm", "--seconds", "1", "--close", "rst", "--port", "8405");
        long outRsts = ns.snmpTcp().get("OutRsts") - before.get("OutRsts");
        assertTrue(outRsts > 1000, "the storm sent RSTs: " + outRsts);
        // exact, but for RSTs the kernel reports it skipped the program for (sent while it ran on that CPU:
        // the RST programs have no twin yet), counted in tcpulse_probe_recursion_misses_total
        await(Duration.ofSeconds(5), () -> {
            long sent = api("/api/v1/resets?netns=" + inode).getLong("sent");
            return sent == outRsts || (sent < outRsts && outRsts - sent <= resetMisses() - missesBefore);
        }, () -> "resets " + api("/api/v1/resets?netns=" + inode).getLong("sent") + " vs OutRsts " + outRsts
                + ", recursion misses of the RST programs " + (resetMisses() - missesBefore));
        // the kernel's own map: this namespace's RST counters are at most port 0 and the listener's
        java.util.Set<Long> ports = new java.util.TreeSet<>();
        for (JsonObject e : mapEntries("port_counters")) {
            JsonObject key = e.getJsonObject("formatted").getJsonObject("key");
            if (key.getLong("netns") == inode && key.getLong("netns_cookie") == cookie) ports.add(key.getLong("port"));
        }
        assertTrue(java.util.Set.of(0L, 8405L).containsAll(ports), "port counters of the namespace: " + ports);
    }

    /** Runs the kernel skipped of the programs that count RSTs sent (on_send_reset, on_drop_no_socket). */
    private long resetMisses() {
        long n = 0;
        for (Object o : api("/api/v1/health").getJsonObject("probe").getJsonArray("programs")) {
            JsonObject p = (JsonObject) o;
            if (p.getString("feature").equals("resetsSent") || p.getString("feature").equals("closedPortResets")) {
                n += p.getLong("recursionMisses");
            }
        }
        return n;
    }

    /**
     * The entries of every BPF map of that name: bpftool lists one map's entries, or with
     * several maps of the name (another tcpulse running) one object per map.
     */
    static java.util.List<JsonObject> mapEntries(String name) throws Exception {
        java.util.List<JsonObject> out = new java.util.ArrayList<>();
        for (Object o : new JsonArray(Netns.run("bpftool", "-j", "map", "dump", "name", name))) {
            JsonObject j = (JsonObject) o;
            if (j.containsKey("elements")) j.getJsonArray("elements").forEach(e -> out.add((JsonObject) e));
            else out.add(j);
        }
        return out;
    }

    /** Sockets the kernel side keeps an entry for: one per live socket tcpulse saw born. */
    long rememberedSockets() {
        return api("/api/v1/health").getJsonObject("probe").getLong("rememberedSockets");
    }

    @Test
    void aSocketIsForgottenAtItsLastClose(Netns ns) throws Exception {
        long before = rememberedSockets();
        ns.serve("--port", "8406");
        ns.exec(stormTool(), "connect", "--port", "8406", "--count", "300", "--close", "client");
        ns.settledSs(Duration.ofSeconds(10), "LISTEN", "TIME_WAIT");
        // 600 sockets were born (300 clients, 300 accepted); the listener is all that lives
        // (a few host sockets may come and go meanwhile)
        await(Duration.ofSeconds(5), () -> rememberedSockets() <= before + 5,
                () -> rememberedSockets() + " sockets remembered, " + before + " before the traffic");
        assertTrue(rememberedSockets() >= 1, "the listener is remembered");
    }

    /** A server that aborts its connections: the RSTs leave after ->CLOSE and keep their listener and owner. */
    @Test
    void anAbortiveCloseByTheServerIsCountedUnderItsListener(Netns ns) throws Exception {
        long inode = ns.inode();
        Process server = ns.serve("--port", "8408", "--reset-first");
        Map<String, Long> before = ns.snmpTcp();
        ns.exec(stormTool(), "connect", "--port", "8408", "--count", "5", "--close", "server");
        long outRsts = ns.snmpTcp().get("OutRsts") - before.get("OutRsts");
        assertEquals(5, outRsts, "ground truth: OutRsts");
        await(Duration.ofSeconds(5), () -> api("/api/v1/resets?netns=" + inode).getLong("sent") == 5,
                () -> "resets " + api("/api/v1/resets?netns=" + inode).encode());
        JsonObject l = listener(agent.port(), inode, 8408);
        assertNotNull(l, "no listener 8408");
        assertEquals(5, l.getLong("resetsSent"), l.encode());
        JsonArray events = api("/api/v1/events?netns=" + inode + "&limit=1000").getJsonArray("events");
        java.util.List<JsonObject> sent = events.stream().map(JsonObject.class::cast)
                .filter(e -> "RESET_SENT".equals(e.getString("kind"))).toList();
        assertEquals(5, sent.size(), events.encode());
        for (JsonObject e : sent) {
            assertEquals(8408, e.getInteger("localPort"), e.encode());
            assertEquals(server.pid(), e.getLong("pid"), e.encode());
        }
    }
}
