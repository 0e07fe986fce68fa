package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/** Sockets that existed before the agent started, and the agent without BPF. */
@KernelTest
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
    void socketsCreatedBeforeTheAgentAreExactAtStartup(Netns ns, Agents agents) throws Exception {
        Map<String, Long> expected = prepare(ns);
        // a long walk interval: the first answer must come from the start-up walk alone
        Main.Agent agent = agents.start("--walk-interval-ms", "600000");
        assertEquals(expected, asSs(apiStates(agent.port(), ns.inode())));
        assertEquals(expected, ns.ssCounts());
    }

    /** Root for the namespace (so a kernel test); the probe itself is turned off. */
    @Test
    void withoutBpfTheAgentIsDegradedAndReadsProc(Netns ns, Agents agents) throws Exception {
        Map<String, Long> expected = prepare(ns);
        Main.Agent agent = agents.start("--no-probe", "--walk-interval-ms", "500");
        JsonObject health = getJson(agent.port(), "/api/v1/health");
        assertEquals("degraded", health.getString("status"));
        assertFalse(health.getJsonObject("probe").getBoolean("available"));
        assertTrue(health.getJsonObject("probe").getString("cause").contains("--no-probe"), health.encode());
        assertEquals("procfs", health.getJsonObject("probe").getString("mode"));
        Wait.until(Duration.ofSeconds(5), () -> statesOf(agent, ns), expected::equals,
                last -> "procfs states " + last + " expected " + expected);
    }

    static Map<String, Long> statesOf(Main.Agent agent, Netns ns) {
        try {
            return asSs(apiStates(agent.port(), ns.inode()));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
