package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.TreeMap;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The variants older kernels get, forced on this one: sockets named by address (no
 * bpf_get_socket_cookie in tracing programs before 5.12) and per-socket entries in the
 * hash (no compare-and-swap before 5.12). Still exact.
 */
@KernelTest
@AgentOptions({"--walk-interval-ms", "500", "--max-events-per-sec", "0",
        "--disable-feature", "socketCookies", "--disable-feature", "socketSlots"})
class CompatVariantKernelTest {
    private final Main.Agent agent;

    CompatVariantKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void healthListsEveryFeatureWithWhyItIsOff() throws Exception {
        JsonObject probe = getJson(agent.port(), "/api/v1/health").getJsonObject("probe");
        Map<String, JsonObject> features = new TreeMap<>();
        probe.getJsonArray("features").forEach(o -> features.put(((JsonObject) o).getString("name"), (JsonObject) o));
        assertEquals(java.util.Set.of("stateChanges", "socketWalk", "nestedStateChanges", "synAckRetransmits",
                "resetsSent", "resetsReceived", "listenOverflowEvents", "socketCookies", "socketSlots", "closedPortResets",
                "socketHolders"),
                features.keySet());
        assertTrue(features.get("stateChanges").getBoolean("on"), probe.encode());
        assertTrue(features.get("resetsSent").getBoolean("on"), probe.encode());
        assertFalse(features.get("socketCookies").getBoolean("on"));
        assertTrue(features.get("socketCookies").getString("reason").startsWith("turned off by configuration: sockets named by their address"),
                probe.encode());
        assertTrue(features.get("nestedStateChanges").getBoolean("on"), probe.encode());
        assertFalse(features.get("socketSlots").getBoolean("on"));
        String metrics = get(agent.port(), "/metrics").body();
        assertTrue(metrics.contains("tcpulse_probe_feature{feature=\"socketCookies\"} 0"), metrics);
        assertTrue(metrics.contains("tcpulse_probe_feature{feature=\"stateChanges\"} 1"), metrics);
    }

    @Test
    void transitionMatrixIsExactAndStatesMatchSs(Netns ns) throws Exception {
        StateMachineKernelTest.assertExactMatrixAndStates(agent.port(), ns);
    }

    @Test
    void socketsCreatedBeforeTheAgentAreExactAtStartup(Netns ns, Agents agents) throws Exception {
        Map<String, Long> expected = StartupKernelTest.prepare(ns);
        Main.Agent fresh = agents.start("--walk-interval-ms", "600000",
                "--disable-feature", "socketCookies", "--disable-feature", "socketSlots");
        assertEquals(expected, asSs(apiStates(fresh.port(), ns.inode())));
    }
}
