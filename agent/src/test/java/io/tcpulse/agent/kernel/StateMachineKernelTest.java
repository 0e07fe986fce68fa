package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.model.TcpState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
// every event streamed: the storm below would otherwise sample the next test's events
@KernelTest
@AgentOptions({"--walk-interval-ms", "500", "--max-events-per-sec", "0"})
class StateMachineKernelTest {
    static final int N = 500;
    private final Main.Agent agent;

    StateMachineKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void transitionMatrixIsExactAndStatesMatchSs(Netns ns) throws Exception {
        assertExactMatrixAndStates(agent.port(), ns);
    }

    /** Both close orders in a fresh namespace: every transition counted once, states equal to ss. */
    static void assertExactMatrixAndStates(int port, Netns ns) throws Exception {
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

        await(Duration.ofSeconds(5), () -> expected.equals(kernelTransitions(port, inode)),
                () -> "transitions for netns " + inode + ": expected " + expected + " got " + kernelTransitions(port, inode));

        // every FIN_WAIT2->CLOSE handed over to a timewait sock (substate TIME_WAIT or FIN_WAIT2)
        JsonArray all = getJson(port, "/api/v1/transitions?netns=" + inode).getJsonArray("transitions");
        long twEntries = all.stream().map(JsonObject.class::cast)
                .filter(t -> t.getBoolean("derived")).mapToLong(t -> t.getLong("count")).sum();
        assertEquals(2L * N, twEntries, "timewait entries: " + all);

        // once traffic stops, the states equal ss inside the namespace, state by state
        await(Duration.ofSeconds(10), () -> ns.ssCounts().equals(safeStates(port, inode)),
                () -> "states for netns " + inode + ": ss " + ns.ssCounts() + ", agent " + safeStates(port, inode));
    }

    @Test
    void ipv6ConnectionsCarryTheirAddresses(Netns ns) throws Exception {
        long inode = ns.inode();
        ns.serve("--addr", "::1", "--port", "8006");
        ns.exec(stormTool(), "connect", "--addr", "::1", "--port", "8006", "--count", "3", "--close", "client");
        await(Duration.ofSeconds(5), () -> events(inode, "port=8006&state=SYN_SENT").size() >= 1,
                () -> "no IPv6 events seen");
        JsonObject established = events(inode, "port=8006&state=ESTABLISHED").stream()
                .map(JsonObject.class::cast)
                .filter(e -> "SYN_SENT".equals(e.getString("from"))).findFirst().orElseThrow();
        assertEquals(6, established.getInteger("family"));
        assertEquals("::1", established.getString("local"));
        assertEquals("::1", established.getString("remote"));
        assertEquals(8006, established.getInteger("remotePort"));
        assertTrue(established.getInteger("localPort") > 1024, established.encode());
        assertEquals("tcpulse-storm", established.getString("comm"));
    }

    JsonArray events(long inode, String query) {
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
    void aStormIsCountedExactly(Netns ns) throws Exception {
        String out = ns.exec(stormTool(), "storm", "--seconds", "2", "--close", "rst", "--port", "8020");
        long n = new JsonObject(out.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow()).getLong("connections");
        assertTrue(n > 10_000, "the storm ran: " + out);
        // how each side closes varies (the client's RST may meet the server's FIN); the
        // opening does not, and each of the 2n sockets ends in one ->CLOSE unless ss
        // still shows it as a full socket (a FIN_WAIT1 orphan whose peer's RST crossed its
        // FIN; a timewait sock in FIN_WAIT2 has had its ->CLOSE). One more exception, rare:
        // a socket whose end the kernel never reports (it leaves the hash with no ->CLOSE:
        // seen in about 1 storm of 10, one or two sockets, mostly accepted ones in
        // CLOSE_WAIT; neither ss nor the tracepoint shows its end). Those are the sockets the
        // counters leave alive beyond what ss shows: at most 3, and every other ->CLOSE counted
        Map<String, Long> expected = new TreeMap<>();
        for (String t : new String[] {"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED"}) {
            expected.put(t, n);
        }
        long[] unreported = new long[1];
        await(Duration.ofSeconds(5), () -> {
            Map<String, Long> all = kernelTransitions(ns.inode());
            long full = ns.fullSockets();
            unreported[0] = aliveByCounters(all) - full;
            expected.put("->CLOSE", 2 * n - full - unreported[0]);
            return expected.equals(openingAndCloses(all));
        }, () -> "storm of " + n + " connections: " + kernelTransitions(ns.inode()) + " vs " + expected
                + ", ss " + ns.ssCounts() + ", full sockets " + ns.fullSockets());
        assertTrue(unreported[0] >= 0 && unreported[0] <= 3, "sockets whose end the kernel did not report: " + unreported[0]);
    }

    /**
     * One client-close round of n connections, server and client on one CPU when cpu >= 0
     * (on loopback every transition then happens there): every transition it makes, exactly.
     */
    static Map<String, Long> clientCloseRound(Netns ns, int cpu, int port, int n) throws Exception {
        if (cpu < 0) return KernelTestSupport.clientCloseRound(ns, port, n);
        ns.serveOnCpu(cpu, "--port", String.valueOf(port), "--backlog", "4096");
        ns.exec("taskset", "-c", Integer.toString(cpu),
                stormTool(), "connect", "--port", String.valueOf(port), "--count", String.valueOf(n), "--close", "client");
        return KernelTestSupport.clientCloseExpected(n);
    }

    /**
     * The kernel counts a namespace's transitions in a per-CPU array slot picked by its
     * cookie (TCPULSE_TRANS_SLOTS = 32 in native/tcpulse.h); a second live namespace whose
     * cookie picks the same slot counts in the hash on the CPUs where the slot is taken
     * (CPU 0 here) and in the slot elsewhere. Both stay exact and apart.
     */
    @Test
    void namespacesSharingATransitionSlotAreCountedApart(Namespaces namespaces) throws Exception {
        // 33 namespaces cannot all pick different slots of 32 (cookies come in per-CPU
        // batches: which ones collide is not foreseeable)
        Map<Long, Netns> bySlot = new java.util.HashMap<>();
        Netns a = null, b = null;
        while (b == null) {
            Netns n = namespaces.create();
            a = bySlot.putIfAbsent(io.tcpulse.agent.probe.Probe.netnsCookie(n.path()) % 32, n);
            if (a != null) b = n;
        }
        Netns first = a, shared = b;
        // the first takes the slot on CPU 0 (its server and client run there); the second,
        // on every CPU, counts in the hash where the slot is taken and in it elsewhere
        Map<String, Long> expectA = clientCloseRound(first, 0, 8011, 50);
        Map<String, Long> expectB = clientCloseRound(shared, -1, 8012, 100);
        await(Duration.ofSeconds(5), () -> expectA.equals(kernelTransitions(first.inode()))
                        && expectB.equals(kernelTransitions(shared.inode())),
                () -> "a: " + kernelTransitions(first.inode()) + " vs " + expectA
                        + "; b: " + kernelTransitions(shared.inode()) + " vs " + expectB + ", ss " + shared.ssCounts());
    }

    /** Sockets other than listeners the transition counts leave in a state short of CLOSE. */
    static long aliveByCounters(Map<String, Long> transitions) {
        Map<String, Long> net = new TreeMap<>();
        transitions.forEach((t, n) -> {
            String[] fromTo = t.split(">");
            net.merge(fromTo[0], -n, Long::sum);
            net.merge(fromTo[1], n, Long::sum);
        });
        return net.entrySet().stream().filter(e -> !e.getKey().equals("CLOSE") && !e.getKey().equals("LISTEN"))
                .mapToLong(e -> Math.max(0, e.getValue())).sum();
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

    Map<String, Long> kernelTransitions(long inode) {
        return kernelTransitions(agent.port(), inode);
    }

    static Map<String, Long> kernelTransitions(int port, long inode) {
        try {
            JsonArray arr = getJson(port, "/api/v1/transitions?netns=" + inode).getJsonArray("transitions");
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

    Map<String, Long> safeStates(long inode) {
        return safeStates(agent.port(), inode);
    }

    static Map<String, Long> safeStates(int port, long inode) {
        try {
            Map<TcpState, Long> s = apiStates(port, inode);
            return asSs(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
