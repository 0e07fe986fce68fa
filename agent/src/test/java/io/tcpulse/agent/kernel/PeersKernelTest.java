package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 14: the destinations this host connects to. Connects that fail are counted per
 * destination by the kernel's reason (a closed port: refused; SYNs into a black hole with
 * tcp_syn_retries=1: timeout), live connections by state equal ss filtered by destination,
 * over IPv4 and IPv6, addresses written as people read them.
 */
@KernelTest
@AgentOptions({"--walk-interval-ms", "500", "--max-events-per-sec", "0"})
class PeersKernelTest {
    /** argv: host port n; n blocking connects at once, prints "errno count" lines (0: connected, then closed). */
    static final String CONNECT = """
            import socket, sys, threading, collections
            host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            out = collections.Counter()
            lock = threading.Lock()
            def one():
                s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                try:
                    s.connect((host, port))
                    r = 0
                except OSError as e:
                    r = e.errno
                finally:
                    s.close()
                with lock:
                    out[r] += 1
            ts = [threading.Thread(target=one) for _ in range(n)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            for k, v in sorted(out.items()):
                print(k, v)
            """;
    static final int ECONNREFUSED = 111, ETIMEDOUT = 110;

    private final Main.Agent agent;

    PeersKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void failedConnectsAreCountedPerDestinationAndReasonAndLiveOnesByState(Netns ns) throws Exception {
        long inode = ns.inode();
        // refused: a closed port, IPv4 and IPv6
        assertEquals(ECONNREFUSED + " 7", connect(ns, "127.0.0.1", 8502, 7));
        assertEquals(ECONNREFUSED + " 4", connect(ns, "::1", 8503, 4));
        // timeout: SYNs into a black hole, given up after one retransmit (about 3 s)
        ns.blackholePeer();
        ns.sysctl("net.ipv4.tcp_syn_retries", "1");
        // a neighbour entry nobody answers for: the SYNs leave and vanish. Without it ARP gives up
        // after about as long as the SYN retries and the kernel calls the host unreachable instead
        String dev = ns.exec("ip", "-o", "route", "get", "10.99.0.5").replaceAll("(?s).* dev (\\S+).*", "$1").strip();
        ns.exec("ip", "neigh", "replace", "10.99.0.5", "lladdr", "02:00:00:00:00:99", "dev", dev, "nud", "permanent");
        assertEquals(ETIMEDOUT + " 3", connect(ns, "10.99.0.5", 80, 3));
        // the same over IPv6 (no duplicate address detection: the address is usable at once)
        ns.exec("ip", "-6", "addr", "add", "fd98::1/64", "dev", dev, "nodad");
        ns.exec("ip", "-6", "route", "add", "fd99::/64", "dev", dev);
        ns.exec("ip", "-6", "neigh", "replace", "fd99::5", "lladdr", "02:00:00:00:00:99", "dev", dev, "nud", "permanent");
        assertEquals(ETIMEDOUT + " 2", connect(ns, "fd99::5", 443, 2));
        // live: 10 connections held open, and 5 made and closed
        ns.serve("--port", "8501", "--hold");
        Process held = ns.spawn(stormTool(), "connect", "--port", "8501", "--count", "10", "--close", "none");
        try {
            ns.settledSs(Duration.ofSeconds(10), "ESTABLISHED", "LISTEN");
            assertEquals("0 5", connect(ns, "127.0.0.1", 8501, 5));

            await(Duration.ofSeconds(15), () -> {
                Map<String, JsonObject> p = peers(inode);
                return p.containsKey("127.0.0.1:8502") && p.containsKey("[::1]:8503") && p.containsKey("10.99.0.5:80")
                        && p.containsKey("127.0.0.1:8501") && p.get("127.0.0.1:8501").getLong("connects") == 15
                        && p.get("10.99.0.5:80").getJsonObject("failed").getLong("timeout") == 3
                        && p.containsKey("[fd99::5]:443") && p.get("[fd99::5]:443").getJsonObject("failed").getLong("timeout") == 2;
            }, () -> "peers " + peers(inode) + "\n" + eventPath(inode));
            Map<String, JsonObject> p = peers(inode);
            assertEquals(failed(7, 0), failedOf(p.get("127.0.0.1:8502")));
            assertEquals(7, p.get("127.0.0.1:8502").getLong("connects"));
            assertEquals(failed(4, 0), failedOf(p.get("[::1]:8503")), "IPv6 in brackets before its port");
            assertEquals(failed(0, 3), failedOf(p.get("10.99.0.5:80")));
        assertEquals(failed(0, 2), failedOf(p.get("[fd99::5]:443")));
        assertEquals(2, p.get("[fd99::5]:443").getLong("connects"));
            JsonObject live = p.get("127.0.0.1:8501");
            assertEquals(failed(0, 0), failedOf(live));
            assertEquals(15, live.getLong("established"));
            // by state as ss shows the sockets towards it (the 5 closed ones wait in TIME_WAIT)
            await(Duration.ofSeconds(10), () -> ns.ssCounts("dst", "127.0.0.1:8501").equals(statesOf(peers(inode).get("127.0.0.1:8501"))),
                    () -> "ss " + ns.ssCounts("dst", "127.0.0.1:8501") + ", agent " + peers(inode).get("127.0.0.1:8501"));
            assertTrue(live.getJsonArray("owners").stream().anyMatch(o -> "tcpulse-storm".equals(((JsonObject) o).getString("comm"))),
                    live.encode());

            String metrics = get(agent.port(), "/metrics").body();
            assertTrue(metrics.contains("tcpulse_peer_connect_failures_total{netns=\"" + inode
                    + "\",remote=\"127.0.0.1:8502\",reason=\"refused\"} 7\n"), "refusals in /metrics");
            assertTrue(metrics.contains("tcpulse_peer_connect_failures_total{netns=\"" + inode
                    + "\",remote=\"10.99.0.5:80\",reason=\"timeout\"} 3\n"), "timeouts in /metrics");
            assertTrue(metrics.contains("tcpulse_peer_connect_failures_total{netns=\"" + inode
                    + "\",remote=\"[fd99::5]:443\",reason=\"timeout\"} 2\n"), "IPv6 timeouts in /metrics, the address in brackets");
        } finally {
            held.destroy();
        }
    }

    /**
     * The kernel gives a freed namespace inode to the next namespace: what the agent built
     * from a dead namespace's events must not pass to its successor (containers churn).
     */
    @Test
    void aNamespaceThatTakesADeadOnesInodeStartsWithNothingOfIt() throws Exception {
        Netns first = Netns.create();
        long inode;
        try {
            inode = first.inode();
            assertEquals(ECONNREFUSED + " 3", connect(first, "127.0.0.1", 8504, 3));
            await(Duration.ofSeconds(10), () -> peers(inode).containsKey("127.0.0.1:8504"), () -> "peers " + peers(inode));
        } finally {
            first.close();
        }
        // the inode is free once the kernel's cleanup ran: namespaces made meanwhile get others
        Netns second = null;
        List<Netns> others = new ArrayList<>();
        try {
            for (int i = 0; i < 100 && second == null; i++) {
                Netns ns = Netns.create();
                if (ns.inode() == inode) second = ns;
                else others.add(ns);
                for (Netns o : others) o.close();
                others.clear();
                if (second == null) Thread.sleep(50);
            }
            assertNotNull(second, "no new namespace got inode " + inode + " back in 100 tries");
            Netns successor = second;
            assertEquals(ECONNREFUSED + " 1", connect(successor, "127.0.0.1", 8505, 1));
            await(Duration.ofSeconds(10), () -> peers(inode).containsKey("127.0.0.1:8505"), () -> "peers " + peers(inode));
            assertEquals(List.of("127.0.0.1:8505"), List.copyOf(peers(inode).keySet()),
                    "the dead namespace's destination is not the new one's");
            assertEquals(failed(1, 0), failedOf(peers(inode).get("127.0.0.1:8505")));
        } finally {
            for (Netns o : others) o.close();
            if (second != null) second.close();
        }
    }

    private static String connect(Netns ns, String host, int port, int n) throws Exception {
        return ns.exec("python3", "-c", CONNECT, host, Integer.toString(port), Integer.toString(n)).strip();
    }

    /*
     * Where events about the namespace went, for a failure message: the kernel's counts of
     * its transitions and the pipeline's losses (once in CI two IPv6 timeouts never reached
     * their peer row: this tells whether the kernel saw them).
     */
    private String eventPath(long inode) {
        try {
            JsonObject health = new JsonObject(get(agent.port(), "/api/v1/health").body());
            return "transitions " + get(agent.port(), "/api/v1/transitions?netns=" + inode).body()
                    + "\nhealth events " + health.getJsonObject("events") + "\nhealth probe " + health.getJsonObject("probe");
        } catch (Exception e) {
            return "(no diagnostics: " + e + ")";
        }
    }

    private Map<String, JsonObject> peers(long inode) {
        return peersOf(agent.port(), inode);
    }

    private static Map<String, Long> failed(long refused, long timeout) {
        return Map.of("refused", refused, "timeout", timeout, "unreachable", 0L, "reset", 0L, "other", 0L);
    }

    private static Map<String, Long> failedOf(JsonObject peer) {
        Map<String, Long> out = new TreeMap<>();
        peer.getJsonObject("failed").forEach(e -> out.put(e.getKey(), ((Number) e.getValue()).longValue()));
        return out;
    }
}
