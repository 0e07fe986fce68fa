package io.tcpulse.agent.probe;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.kernel.Agents;
import io.tcpulse.agent.kernel.KernelTest;
import io.tcpulse.agent.kernel.Netns;
import io.tcpulse.agent.model.ProbeOutage;
import io.tcpulse.agent.probe.Supervisor.Step;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Each step of the probe loop made to fail on a real agent (through the loop's step hook):
 * the failure shows in /api/v1/health and tcpulse_probe_errors_total, the other steps go
 * on, collection resumes, and the kernel's exact transition counts equal what the traffic
 * made. The outage handler (the agent's exit in production) is recorded here instead.
 */
@KernelTest
class ProbeLoopFaultKernelTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int N = 200;

    /** Failures still to inject per step: n > 0 counts down, FOREVER until cleared. */
    private static final Map<Step, AtomicInteger> FAULTS = new ConcurrentHashMap<>();
    private static final int FOREVER = -1;
    private static final BlockingQueue<ProbeOutage> OUTAGES = new LinkedBlockingQueue<>();

    private static Main.Agent agent;
    private static int port;

    @BeforeAll
    static void start(Agents agents) throws Exception {
        agent = agents.start(OUTAGES::add, "--walk-interval-ms", "500", "--max-events-per-sec", "0",
                "--max-collection-outage", "3s");
        port = agent.port();
        agent.probeLoop().beforeEachStep(step -> {
            AtomicInteger left = FAULTS.get(step);
            if (left == null) return;
            int n = left.get();
            if (n == FOREVER || (n > 0 && left.compareAndSet(n, n - 1))) throw fault(step);
        });
    }

    /** What each step meets: a kernel errno where a libtcpulse call fails, a bug elsewhere. */
    private static Exception fault(Step step) {
        return switch (step) {
            case DRAIN -> new ProbeException("tcpulse__poll", Errno.ENOMEM, null); // a transient ENOMEM
            case WALK -> new IllegalStateException("injected walk failure");
            case OWNERS -> new UncheckedIOException(new FileSystemException("/proc", null, "Too many open files"));
            case COUNTERS -> new ProbeException("tcpulse__transitions", Errno.EAGAIN, null);
            case PUBLISH -> new IllegalStateException("injected publish failure");
        };
    }

    /** CPU time of the agents' probe threads in this JVM. */
    private static long probeThreadCpuNanos() {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("tcpulse-probe")) sum += Math.max(0, mx.getThreadCpuTime(t.getId()));
        }
        return sum;
    }

    @AfterEach
    void clearFaults() {
        FAULTS.clear();
    }

    @Test
    void aWalkThatThrowsNeverStopsTheDrainAndCountsStayExact(Netns ns) throws Exception {
        long before = errorCount("walk", "IllegalStateException");
        FAULTS.put(Step.WALK, new AtomicInteger(FOREVER));
        long inode = ns.inode();
        Map<String, Long> expected = clientCloseRound(ns, 8101, N);
        // drained and counted while every walk fails
        await(WAIT, () -> expected.equals(transitionsOf(port, inode)),
                () -> "transitions during the failing walk: expected " + expected + " got " + transitionsOf(port, inode));
        // the counters and the event stream are separate steps: the events may come a tick later
        await(WAIT, () -> !events(inode, 8101).isEmpty(), () -> "events are drained while the walk fails");
        await(WAIT, () -> errorCount("walk", "IllegalStateException") >= before + 2, () -> "walk not retried: " + health());
        JsonObject h = health();
        assertEquals("degraded", h.getString("status"), h.encode());
        JsonObject probe = h.getJsonObject("probe");
        assertEquals("bpf", probe.getString("mode"), "the probe stays attached");
        assertTrue(probe.getBoolean("available"));
        assertEquals("walk", probe.getJsonObject("outage").getString("step"), h.encode());
        assertTrue(probe.getString("cause").contains("step walk (IllegalStateException): injected walk failure"), h.encode());
        JsonObject walk = error(h, "walk", "IllegalStateException").orElseThrow();
        assertTrue(walk.getBoolean("failing"));
        assertEquals("injected walk failure", walk.getString("message"));
        assertTrue(metric("tcpulse_probe_errors_total{step=\"walk\",errno=\"IllegalStateException\"}") >= before + 2);
        assertTrue(metric("tcpulse_probe_outage_seconds") > 0);

        // failing for longer than --max-collection-outage: the agent would exit now
        ProbeOutage outage = nextOutage("walk");
        assertNotNull(outage, "no outage reported after 3 s of failing walks: " + health());
        assertEquals("IllegalStateException", outage.errno());
        assertEquals(outage.sinceMillis() + 3000, outage.exitAtMillis());
        // between the walk's retries the loop sleeps (it once spun through every backoff: a core)
        long cpu0 = probeThreadCpuNanos();
        Thread.sleep(2_000);
        long spent = probeThreadCpuNanos() - cpu0;
        assertTrue(spent < 500_000_000L, "the probe thread used " + spent / 1_000_000 + " ms of CPU in 2 s of failing walks");

        FAULTS.remove(Step.WALK);
        await(WAIT, () -> "ok".equals(health().getString("status")), () -> "never back to ok: " + health());
        JsonObject healed = health();
        assertNull(healed.getJsonObject("probe").getValue("outage"));
        assertFalse(error(healed, "walk", "IllegalStateException").orElseThrow().getBoolean("failing"));
        assertEquals(0.0, metric("tcpulse_probe_outage_seconds"));
        // the walk works again: states equal ss, and later traffic is exact too
        await(WAIT, () -> ns.ssCounts().equals(statesAsSs(port, inode)),
                () -> "states: ss " + ns.ssCounts() + ", agent " + statesAsSs(port, inode));
        Map<String, Long> more = clientCloseRound(ns, 8102, N);
        Map<String, Long> total = sum(expected, more);
        await(WAIT, () -> total.equals(transitionsOf(port, inode)),
                () -> "transitions after recovery: expected " + total + " got " + transitionsOf(port, inode)
                        + ", ss " + ns.ssCounts() + ", state changes lost " + health().getJsonObject("events").getLong("stateChangesLost")
                        + ", programs " + health().getJsonObject("probe").getJsonArray("programs"));
    }

    @Test
    void aDrainThatThrowsOnceLosesNoCount(Netns ns) throws Exception {
        long before = errorCount("drain", "ENOMEM");
        FAULTS.put(Step.DRAIN, new AtomicInteger(1));
        await(WAIT, () -> errorCount("drain", "ENOMEM") == before + 1, () -> "no drain error: " + health());
        long inode = ns.inode();
        Map<String, Long> expected = clientCloseRound(ns, 8111, N);
        await(WAIT, () -> expected.equals(transitionsOf(port, inode)),
                () -> "transitions: expected " + expected + " got " + transitionsOf(port, inode));
        await(WAIT, () -> !events(inode, 8111).isEmpty(), () -> "the drain did not resume");
        JsonObject h = health();
        assertEquals("ok", h.getString("status"), h.encode());
        JsonObject drain = error(h, "drain", "ENOMEM").orElseThrow();
        assertEquals(before + 1, drain.getLong("count"));
        assertFalse(drain.getBoolean("failing"));
        assertTrue(drain.getString("message").startsWith("tcpulse__poll failed: ENOMEM"), drain.encode());
        assertEquals(before + 1, metric("tcpulse_probe_errors_total{step=\"drain\",errno=\"ENOMEM\"}"));
    }

    @Test
    void failingCountersAndPublishingShowAndHeal(Netns ns) throws Exception {
        long inode = ns.inode();
        FAULTS.put(Step.COUNTERS, new AtomicInteger(FOREVER));
        await(WAIT, () -> error(health(), "counters", "EAGAIN").map(e -> e.getBoolean("failing")).orElse(false),
                () -> "no counters error: " + health());
        assertEquals("degraded", health().getString("status"));
        Map<String, Long> expected = clientCloseRound(ns, 8121, N);
        FAULTS.remove(Step.COUNTERS);

        // a snapshot that cannot be built: the health alone is published, and says so
        FAULTS.put(Step.PUBLISH, new AtomicInteger(FOREVER));
        await(WAIT, () -> "publish".equals(Optional.ofNullable(health().getJsonObject("probe").getJsonObject("outage"))
                .map(o -> o.getString("step")).orElse(null)), () -> "no publish outage: " + health());
        assertTrue(error(health(), "publish", "IllegalStateException").orElseThrow().getBoolean("failing"));
        Map<String, Long> more = clientCloseRound(ns, 8122, N);
        FAULTS.remove(Step.PUBLISH);

        Map<String, Long> total = sum(expected, more);
        await(WAIT, () -> total.equals(transitionsOf(port, inode)),
                () -> "transitions after recovery: expected " + total + " got " + transitionsOf(port, inode)
                        + ", ss " + ns.ssCounts() + ", state changes lost " + health().getJsonObject("events").getLong("stateChangesLost")
                        + ", programs " + health().getJsonObject("probe").getJsonArray("programs"));
        await(WAIT, () -> "ok".equals(health().getString("status")), () -> "never back to ok: " + health());
        assertFalse(error(health(), "counters", "EAGAIN").orElseThrow().getBoolean("failing"));
        assertTrue(metric("tcpulse_probe_errors_total{step=\"publish\",errno=\"IllegalStateException\"}") >= 1);
    }

    @Test
    void aFailingOwnerLookupLeavesCollectionOk(Netns ns) throws Exception {
        long before = errorCount("owners", "EMFILE");
        FAULTS.put(Step.OWNERS, new AtomicInteger(FOREVER));
        long inode = ns.inode();
        // listeners with a cgroup make every walk look their owners up
        Map<String, Long> expected = clientCloseRound(ns, 8131, N);
        await(WAIT, () -> errorCount("owners", "EMFILE") > before, () -> "no owner lookup failed: " + health());
        JsonObject h = health();
        assertEquals("ok", h.getString("status"), "unnamed owners are no outage: " + h.encode());
        assertNull(h.getJsonObject("probe").getValue("outage"));
        assertTrue(error(h, "owners", "EMFILE").orElseThrow().getBoolean("failing"));
        await(WAIT, () -> expected.equals(transitionsOf(port, inode)),
                () -> "transitions: expected " + expected + " got " + transitionsOf(port, inode));
        FAULTS.remove(Step.OWNERS);
        await(WAIT, () -> !error(health(), "owners", "EMFILE").orElseThrow().getBoolean("failing"),
                () -> "owner lookups never recovered: " + health());
    }

    // ---- helpers ----

    /** The next outage of step reported (others, left by earlier tests, are skipped); null after WAIT. */
    private static ProbeOutage nextOutage(String step) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            ProbeOutage o = OUTAGES.poll(left, TimeUnit.NANOSECONDS);
            if (o != null && o.step().equals(step)) return o;
        }
        return null;
    }

    private static JsonObject health() {
        try {
            return getJson(port, "/api/v1/health");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static Optional<JsonObject> error(JsonObject health, String step, String errno) {
        return health.getJsonObject("probe").getJsonArray("errors").stream().map(JsonObject.class::cast)
                .filter(e -> step.equals(e.getString("step")) && errno.equals(e.getString("errno"))).findFirst();
    }

    private static long errorCount(String step, String errno) {
        return error(health(), step, errno).map(e -> e.getLong("count")).orElse(0L);
    }

    /** A sample's value in /metrics; 0 when absent. */
    private static double metric(String series) {
        try {
            String body = get(port, "/metrics").body();
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(body);
            return m.find() ? Double.parseDouble(m.group(1)) : 0;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static JsonArray events(long inode, int tcpPort) {
        try {
            return getJson(port, "/api/v1/events?netns=" + inode + "&port=" + tcpPort).getJsonArray("events");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Two rounds in one namespace: the listener's CLOSE>LISTEN and every other transition add up. */
    private static Map<String, Long> sum(Map<String, Long> a, Map<String, Long> b) {
        Map<String, Long> out = new java.util.TreeMap<>(a);
        b.forEach((k, v) -> out.merge(k, v, Long::sum));
        return out;
    }
}
