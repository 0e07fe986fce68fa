package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 11: a kernel map that fills up says so, per map, and every RST is either counted or
 * counted as refused. Connecting to 40,000 closed ports in each of two namespaces makes
 * 80,000 per-(namespace, port) RST counters, past port_counters' 65,536 entries.
 */
@KernelTest
@AgentOptions({"--walk-interval-ms", "500"})
class MapFullKernelTest {
    static final int PORTS = 40_000;
    /** Connects to ports 1..n of 127.0.0.1, each refused at once (a closed port answers with an RST). */
    static final String SWEEP = """
            import socket, sys
            refused = 0
            for port in range(1, int(sys.argv[1]) + 1):
                s = socket.socket()
                try:
                    s.connect(("127.0.0.1", port))
                except ConnectionRefusedError:
                    refused += 1
                finally:
                    s.close()
            print(refused)
            """;

    private final Main.Agent agent;

    MapFullKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void aFullPortCounterMapIsCountedPerMapAndNoRstGoesUncounted(Namespaces namespaces) throws Exception {
        Netns a = namespaces.create(), b = namespaces.create();
        long fullBefore = mapFull();
        long rstsBefore = outRsts(a) + outRsts(b);
        for (Netns ns : new Netns[] {a, b}) {
            // ephemeral ports above the sweep: closed ports below the range are counted one key each
            ns.sysctl("net.ipv4.ip_local_port_range", "60000 60999");
            assertEquals(Integer.toString(PORTS), ns.exec("python3", "-c", SWEEP, Integer.toString(PORTS)).strip());
        }
        long rsts = outRsts(a) + outRsts(b) - rstsBefore;
        assertTrue(rsts >= 2L * PORTS, "RSTs sent: " + rsts);
        long[] seen = new long[2];
        // every RST landed in a per-port counter of its namespace or in the map-full count (the map holds 65,536 keys);
        // the count of refusals is host-wide: other namespaces' RSTs at new ports meanwhile are refused too
        await(Duration.ofSeconds(30), () -> {
            seen[0] = resetsSent(a) + resetsSent(b);
            seen[1] = mapFull() - fullBefore;
            return seen[1] > 0 && seen[0] + seen[1] >= rsts;
        }, () -> "RSTs sent " + rsts + ": counted " + seen[0] + ", refused by the full map " + seen[1]);
        assertTrue(seen[0] < rsts && seen[0] <= 65_536, "the map holds 65,536 keys: " + seen[0] + " counted of " + rsts);
        System.out.printf("MapFullKernelTest: %d RSTs sent, %d counted per port, %d refused by the full port_counters map%n",
                rsts, seen[0], seen[1]);
        JsonObject events = getJson(agent.port(), "/api/v1/health").getJsonObject("events");
        assertEquals(events.getLong("mapFull"), events.getJsonObject("mapFullByMap").getLong("port_counters")
                + events.getJsonObject("mapFullByMap").getLong("transitions") + events.getJsonObject("mapFullByMap").getLong("listen_owners")
                + events.getJsonObject("mapFullByMap").getLong("sk_infos"), events.encode());
        String metrics = get(agent.port(), "/metrics").body();
        assertTrue(metrics.contains("tcpulse_probe_map_full_by_map_total{map=\"port_counters\"} "
                + events.getJsonObject("mapFullByMap").getLong("port_counters") + "\n"), "the refusals in /metrics");
        assertEquals("ok", getJson(agent.port(), "/api/v1/health").getString("status"), "a full map degrades a figure, not collection");
    }

    private long mapFull() {
        return healthOf(agent.port()).getJsonObject("events").getJsonObject("mapFullByMap").getLong("port_counters");
    }


    private static long outRsts(Netns ns) {
        return ns.snmpTcp().get("OutRsts");
    }

    /** The namespace's RSTs sent as the agent counts them (tcpulse_resets_total). */
    private long resetsSent(Netns ns) {
        String prefix = "tcpulse_resets_total{netns=\"" + ns.inode() + "\",direction=\"sent\"} ";
        String metrics;
        try {
            metrics = get(agent.port(), "/metrics").body();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return metrics.lines().filter(l -> l.startsWith(prefix))
                .mapToLong(l -> Long.parseLong(l.substring(prefix.length()))).sum();
    }
}
