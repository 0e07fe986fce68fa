package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/** Sockets that existed before the agent started, and the agent without BPF. */
class StartupKernelTest {

    /** LISTEN, ESTABLISHED, CLOSE_WAIT, FIN_WAIT2 and TIME_WAIT sockets made before the agent starts. */
    static Map<String, Long> prepare(Netns ns) throws Exception {
        ns.serve("--port", "8101", "--never-close"); // its sockets stay in CLOSE_WAIT
        ns.exec(stormTool(), "connect", "--port", "8101", "--count", "5", "--close", "client"); // FIN_WAIT2
        ns.serve("--port", "8102", "--hold");
        ns.spawn(stormTool(), "connect", "--port", "8102", "--count", "3", "--close", "none"); // ESTABLISHED
        ns.serve("--port", "8103");
        ns.exec(stormTool(), "connect", "--port", "8103", "--count", "7", "--close", "client"); // TIME_WAIT
        Map<String, Long> ss = ns.settledSs(Duration.ofSeconds(10),
                "LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT");
        assertEquals(3L, ss.get("LISTEN"));
        assertEquals(6L, ss.get("ESTABLISHED")); // held, both ends
        return ss;
    }

    @Test
    void socketsCreatedBeforeTheAgentAreExactAtStartup() throws Exception {
        requireRootAndBpf();
        try (Netns ns = Netns.create()) {
            Map<String, Long> expected = prepare(ns);
            // a long walk interval: the first answer must come from the start-up walk alone
            try (Main.Agent agent = startAgent("--walk-interval-ms", "600000")) {
                assertEquals(expected, asSs(apiStates(agent.port(), ns.inode())));
                assertEquals(expected, ns.ssCounts());
            }
        }
    }

    @Test
    void withoutBpfTheAgentIsDegradedAndReadsProc() throws Exception {
        requireRootAndBpf(); // root for the namespace; the probe itself is turned off
        try (Netns ns = Netns.create()) {
            Map<String, Long> expected = prepare(ns);
            try (Main.Agent agent = startAgent("--no-probe", "--walk-interval-ms", "500")) {
                JsonObject health = getJson(agent.port(), "/api/v1/health");
                assertEquals("degraded", health.getString("status"));
                assertFalse(health.getJsonObject("probe").getBoolean("available"));
                assertTrue(health.getJsonObject("probe").getString("cause").contains("--no-probe"), health.encode());
                assertEquals("procfs", health.getJsonObject("probe").getString("mode"));
                await(Duration.ofSeconds(5), () -> expected.equals(statesOf(agent, ns)),
                        () -> "procfs states " + statesOf(agent, ns) + " expected " + expected);
            }
        }
    }

    static Map<String, Long> statesOf(Main.Agent agent, Netns ns) {
        try {
            return asSs(apiStates(agent.port(), ns.inode()));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
