package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The probe says what it costs and what it lost: every attached program's runs, kernel
 * time and recursion misses as the kernel counts them, the state changes neither twin ran
 * for, and the agent process's CPU and heap.
 */
@KernelTest
@AgentOptions({"--probe-run-stats", "--max-events-per-sec", "0"})
class ProbeCostKernelTest {
    private final Main.Agent agent;

    ProbeCostKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    /**
     * After a storm: each twin ran or was refused once per state change, so runs plus
     * recursion misses are equal for the two; the lost figure is the first's misses the twin
     * did not handle, and with it 0 the storm's openings are counted exactly.
     */
    @Test
    void aStormShowsEachProgramsRunsMissesAndTimeAndNothingLost(Netns ns) throws Exception {
        String out = ns.exec(stormTool(), "storm", "--seconds", "3", "--close", "client", "--port", "8030");
        long n = new JsonObject(out.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow()).getLong("connections");
        assertTrue(n > 5_000, "the storm ran: " + out);

        JsonObject[] health = new JsonObject[1];
        // the two programs are read a few microseconds apart: equal once no change lands in between
        await(Duration.ofSeconds(20), () -> {
            health[0] = healthOf(agent.port());
            Map<String, JsonObject> p = programsByFeature(health[0]);
            return p.containsKey("stateChanges") && p.containsKey("nestedStateChanges")
                    && attempts(p.get("stateChanges")) == attempts(p.get("nestedStateChanges"));
        }, () -> "first and twin programs: " + health[0].getJsonObject("probe").getJsonArray("programs"));
        JsonObject probe = health[0].getJsonObject("probe");
        assertEquals("on", probe.getString("runStats"), probe.encode());
        Map<String, JsonObject> p = programsByFeature(health[0]);
        JsonObject first = p.get("stateChanges");
        // at least the storm's own changes: 2n sockets, each through SYN_SENT/SYN_RECV, ESTABLISHED and more
        assertTrue(attempts(first) >= 6 * n, "state changes seen by the first program: " + first + " for " + n + " connections");
        assertTrue(first.getDouble("runSeconds") > 0, first.encode());
        assertTrue(p.containsKey("socketWalk"), probe.encode());

        assertEquals(0, health[0].getJsonObject("events").getLong("stateChangesLost"),
                "the kernel refused both programs: " + probe.getJsonArray("programs"));
        // every handshake the storm completed, counted once (a connect still retrying its SYN when the storm
        // stopped adds to CLOSE>SYN_SENT only: not compared)
        Map<String, Long> expected = new TreeMap<>();
        for (String t : new String[] {"SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED"}) expected.put(t, n);
        await(Duration.ofSeconds(5), () -> expected.equals(openings(transitionsOf(agent.port(), ns.inode()))),
                () -> "storm of " + n + ": " + transitionsOf(agent.port(), ns.inode()));

        // reconciliation: a walk of the still namespace finds what the counters kept through the storm
        long checked = drift(healthOf(agent.port())).getLong("checkedWalks");
        JsonObject[] drift = new JsonObject[1];
        await(Duration.ofSeconds(15), () -> (drift[0] = drift(healthOf(agent.port()))).getLong("checkedWalks") > checked,
                () -> "no walk checked the counts since the storm: " + drift[0]);
        assertEquals(0, drift[0].getLong("sockets"), "counts the walk found wrong: " + drift[0]);

        String metrics = get(agent.port(), "/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("tcpulse_probe_run_seconds_total{program=\"" + first.getString("name") + "\"} ")),
                "run time per program in /metrics");
        assertTrue(metrics.contains("\ntcpulse_probe_state_changes_lost_total 0\n"), "lost state changes in /metrics");
        assertTrue(metrics.contains("\ntcpulse_walk_drift_sockets_total{state=\"established\"} 0\n"), "drift in /metrics");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("tcpulse_probe_recursion_misses_total{program=\"" + first.getString("name") + "\"} ")));
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("process_cpu_seconds_total ")), "the agent's CPU");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("jvm_memory_used_bytes{area=\"heap\"} ")), "the agent's heap");
        JsonObject self = health[0].getJsonObject("agent");
        assertTrue(self.getDouble("cpuSeconds") > 0 && self.getLong("heapUsedBytes") > 0 && self.getLong("residentBytes") > 0, self.encode());
    }


    private static JsonObject drift(JsonObject health) {
        return health.getJsonObject("walk").getJsonObject("drift");
    }

    private static Map<String, JsonObject> programsByFeature(JsonObject health) {
        Map<String, JsonObject> out = new HashMap<>();
        for (Object o : health.getJsonObject("probe").getJsonArray("programs")) {
            JsonObject p = (JsonObject) o;
            out.putIfAbsent(p.getString("feature"), p);
        }
        return out;
    }

    /** Times the tracepoint called the program: runs, or refused for recursion. */
    private static long attempts(JsonObject program) {
        return program.getLong("runs") + program.getLong("recursionMisses");
    }

    private static Map<String, Long> openings(Map<String, Long> transitions) {
        Map<String, Long> out = new TreeMap<>(transitions);
        out.keySet().retainAll(java.util.Set.of("SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED"));
        return out;
    }
}
