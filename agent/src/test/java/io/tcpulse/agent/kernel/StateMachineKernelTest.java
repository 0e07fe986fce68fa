package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.model.TcpState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The core pipeline against the real kernel, in a namespace of the test's own:
 * exact transition counts and state counts equal to ss.
 */
class StateMachineKernelTest {
    static final int N = 500;
    static Main.Agent agent;

    @BeforeAll
    static void start() throws Exception {
        requireRootAndBpf();
        agent = startAgent("--walk-interval-ms", "500");
    }

    @AfterAll
    static void stop() {
        if (agent != null) agent.close();
    }

    @Test
    void transitionMatrixIsExactAndStatesMatchSs() throws Exception {
        try (Netns ns = Netns.create()) {
            long inode = ns.inode();
            // round 1: the client closes first
            ns.serve("--port", "8001", "--backlog", "4096"); // no accept-queue overflow under CPU contention
            ns.exec(stormTool(), "connect", "--port", "8001", "--count", String.valueOf(N), "--close", "client");
            // round 2: the server closes first
            ns.serve("--port", "8002", "--close-first", "--backlog", "4096");
            ns.exec(stormTool(), "connect", "--port", "8002", "--count", String.valueOf(N), "--close", "server");

            Map<String, Long> expected = new TreeMap<>();
            expected.put("CLOSE>LISTEN", 2L);
            expected.put("CLOSE>SYN_SENT", 2L * N);
            expected.put("SYN_SENT>ESTABLISHED", 2L * N);
            expected.put("LISTEN>SYN_RECV", 2L * N);
            expected.put("SYN_RECV>ESTABLISHED", 2L * N);
            // the closing side (client in round 1, server in round 2)
            expected.put("ESTABLISHED>FIN_WAIT1", 2L * N);
            expected.put("FIN_WAIT1>FIN_WAIT2", 2L * N);
            expected.put("FIN_WAIT2>CLOSE", 2L * N);
            // the other side
            expected.put("ESTABLISHED>CLOSE_WAIT", 2L * N);
            expected.put("CLOSE_WAIT>LAST_ACK", 2L * N);
            expected.put("LAST_ACK>CLOSE", 2L * N);

            await(Duration.ofSeconds(5), () -> expected.equals(kernelTransitions(inode)),
                    () -> "transitions for netns " + inode + ": expected " + expected + " got " + kernelTransitions(inode));

            // every FIN_WAIT2->CLOSE handed over to a timewait sock (substate TIME_WAIT or FIN_WAIT2)
            JsonArray all = getJson(agent.port(), "/api/v1/transitions?netns=" + inode).getJsonArray("transitions");
            long twEntries = all.stream().map(JsonObject.class::cast)
                    .filter(t -> t.getBoolean("derived")).mapToLong(t -> t.getLong("count")).sum();
            assertEquals(2L * N, twEntries, "timewait entries: " + all);

            // once traffic stops, the states equal ss inside the namespace, state by state
            await(Duration.ofSeconds(10), () -> ns.ssCounts().equals(safeStates(inode)),
                    () -> "states for netns " + inode + ": ss " + ns.ssCounts() + ", agent " + safeStates(inode));
        }
    }

    @Test
    void ipv6ConnectionsCarryTheirAddresses() throws Exception {
        try (Netns ns = Netns.create()) {
            long inode = ns.inode();
            ns.serve("--addr", "::1", "--port", "8006");
            ns.exec(stormTool(), "connect", "--addr", "::1", "--port", "8006", "--count", "3", "--close", "client");
            await(Duration.ofSeconds(5), () -> events(inode, "port=8006&state=SYN_SENT").size() >= 1,
                    () -> "no IPv6 events seen");
            JsonObject established = events(inode, "port=8006&state=ESTABLISHED").stream()
                    .map(JsonObject.class::cast)
                    .filter(e -> "SYN_SENT".equals(e.getString("from"))).findFirst().orElseThrow();
            assertEquals(6, established.getInteger("family"));
            assertEquals("::1", established.getString("local").replace("0:0:0:0:0:0:0:1", "::1"));
            assertEquals("::1", established.getString("remote").replace("0:0:0:0:0:0:0:1", "::1"));
            assertEquals(8006, established.getInteger("remotePort"));
            assertTrue(established.getInteger("localPort") > 1024, established.encode());
            assertEquals("tcpulse-storm", established.getString("comm"));
        }
    }

    static JsonArray events(long inode, String query) {
        try {
            return getJson(agent.port(), "/api/v1/events?netns=" + inode + "&limit=10000&" + query).getJsonArray("events");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /**
     * A storm at full speed: at this rate interrupts land inside the state-change program
     * and their softirqs change states nested in it (the kernel refuses the nested run;
     * the twin program takes it). Every connection is counted, none twice.
     */
    @Test
    void aStormIsCountedExactly() throws Exception {
        try (Netns ns = Netns.create()) {
            String out = ns.exec(stormTool(), "storm", "--seconds", "2", "--close", "rst", "--port", "8020");
            long n = new JsonObject(out.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow()).getLong("connections");
            assertTrue(n > 10_000, "the storm ran: " + out);
            // how each side closes varies (the client's RST may meet the server's FIN); the
            // opening does not, and each of the 2n sockets ends in one ->CLOSE unless ss
            // still shows it (a FIN_WAIT1 orphan whose peer's RST crossed its FIN)
            Map<String, Long> expected = new TreeMap<>();
            for (String t : new String[] {"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED"}) {
                expected.put(t, n);
            }
            await(Duration.ofSeconds(5), () -> {
                long open = ns.ssCounts().entrySet().stream().filter(e -> !e.getKey().equals("TIME_WAIT"))
                        .mapToLong(Map.Entry::getValue).sum();
                expected.put("->CLOSE", 2 * n - open);
                return expected.equals(openingAndCloses(kernelTransitions(ns.inode())));
            }, () -> "storm of " + n + " connections: " + kernelTransitions(ns.inode()) + " vs " + expected
                    + ", ss " + ns.ssCounts());
        }
    }

    /**
     * One client-close round of n connections, server and client on one CPU (on loopback
     * every transition then happens there): every transition it makes, exactly.
     */
    static Map<String, Long> clientCloseRound(Netns ns, int cpu, int port, int n) throws Exception {
        ns.serveOnCpu(cpu, "--port", String.valueOf(port), "--backlog", "4096");
        ns.exec("taskset", "-c", Integer.toString(cpu),
                stormTool(), "connect", "--port", String.valueOf(port), "--count", String.valueOf(n), "--close", "client");
        Map<String, Long> expected = new TreeMap<>();
        expected.put("CLOSE>LISTEN", 1L);
        for (String t : new String[] {"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED",
                "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE",
                "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}) {
            expected.put(t, (long) n);
        }
        return expected;
    }

    /**
     * The kernel counts a namespace's transitions in a per-CPU array slot picked by its
     * cookie (TCPULSE_TRANS_SLOTS = 32 in native/tcpulse.h); a second live namespace whose
     * cookie picks the same slot counts in the hash on the CPUs where the slot is taken
     * (here CPU 0) and in the slot elsewhere (CPU 1). Both stay exact and apart.
     */
    @Test
    void namespacesSharingATransitionSlotAreCountedApart() throws Exception {
        java.util.List<Netns> spare = new java.util.ArrayList<>();
        try (Netns a = Netns.create()) {
            long slotOfA = io.tcpulse.agent.probe.Probe.netnsCookie("/run/netns/" + a.name) % 32;
            Map<String, Long> expectA = clientCloseRound(a, 0, 8011, 50); // a takes the slot on CPU 0
            Netns b = null;
            for (int i = 0; i < 64 && b == null; i++) {
                Netns n = Netns.create();
                if (io.tcpulse.agent.probe.Probe.netnsCookie("/run/netns/" + n.name) % 32 == slotOfA) b = n;
                else spare.add(n);
            }
            assertNotNull(b, "no namespace whose cookie picks slot " + slotOfA + " in 64");
            for (Netns n : spare) n.close();
            spare.clear();
            try (Netns shared = b) {
                Map<String, Long> expectB = clientCloseRound(shared, 0, 8012, 70);
                if (Runtime.getRuntime().availableProcessors() > 1) {
                    clientCloseRound(shared, 1, 8013, 30).forEach((t, n) -> expectB.merge(t, n, Long::sum));
                }
                await(Duration.ofSeconds(5), () -> expectA.equals(kernelTransitions(a.inode()))
                                && expectB.equals(kernelTransitions(shared.inode())),
                        () -> "a: " + kernelTransitions(a.inode()) + " vs " + expectA
                                + "; b: " + kernelTransitions(shared.inode()) + " vs " + expectB + ", ss " + shared.ssCounts());
            }
        } finally {
            for (Netns n : spare) n.close();
        }
    }

    /** The four opening transitions, and all ->CLOSE but the listeners' summed as "->CLOSE". */
    static Map<String, Long> openingAndCloses(Map<String, Long> transitions) {
        Map<String, Long> out = new TreeMap<>();
        transitions.forEach((t, n) -> {
            if (t.endsWith(">CLOSE") && !t.startsWith("LISTEN>")) out.merge("->CLOSE", n, Long::sum);
            else if (t.equals("CLOSE>SYN_SENT") || t.equals("SYN_SENT>ESTABLISHED")
                    || t.equals("LISTEN>SYN_RECV") || t.equals("SYN_RECV>ESTABLISHED")) out.put(t, n);
        });
        return out;
    }

    static Map<String, Long> kernelTransitions(long inode) {
        try {
            JsonArray arr = getJson(agent.port(), "/api/v1/transitions?netns=" + inode).getJsonArray("transitions");
            Map<String, Long> out = new TreeMap<>();
            for (Object o : arr) {
                JsonObject t = (JsonObject) o;
                if (!t.getBoolean("derived")) out.put(t.getString("from") + ">" + t.getString("to"), t.getLong("count"));
            }
            return out;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static Map<String, Long> safeStates(long inode) {
        try {
            Map<TcpState, Long> s = apiStates(agent.port(), inode);
            return asSs(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
