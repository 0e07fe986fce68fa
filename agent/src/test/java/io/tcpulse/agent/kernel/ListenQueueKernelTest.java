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

/** Listen queues per listener against the namespace's own TcpExt counters and ss. */
@KernelTest
@AgentOptions({"--walk-interval-ms", "300"})
class ListenQueueKernelTest {
    private final Main.Agent agent;

    ListenQueueKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    JsonObject listener(long netns, int port) {
        return KernelTestSupport.listener(agent.port(), netns, port);
    }

    @Test
    void acceptQueueOverflowsAreAttributedToTheListenerAndItsOwner(Netns ns) throws Exception {
        long inode = ns.inode();
        Map<String, Long> before = ns.tcpExt();
        Process server = ns.serve("--port", "8201", "--backlog", "4", "--no-accept");
        ns.exec(stormTool(), "connect", "--port", "8201", "--count", "50", "--parallel", "50", "--close", "rst");

        await(Duration.ofSeconds(10), () -> {
            JsonObject l = listener(inode, 8201);
            Map<String, Long> now = ns.tcpExt();
            return l != null
                    && l.getLong("overflows") == now.get("ListenOverflows") - before.get("ListenOverflows")
                    && l.getLong("drops") == now.get("ListenDrops") - before.get("ListenDrops");
        }, () -> "listener " + listener(inode, 8201) + " vs TcpExt " + ns.tcpExt());
        JsonObject l = listener(inode, 8201);
        assertTrue(l.getLong("overflows") > 0, l.encode());
        assertEquals(4, l.getInteger("acceptQueueMax"));
        assertTrue(l.getInteger("acceptQueue") >= 4, "accept queue full: " + l.encode());
        assertEquals("accept-queue-full", l.getString("verdict"));
        JsonObject owner = l.getJsonObject("owner");
        assertEquals(server.pid(), owner.getLong("pid"), l.encode());
        assertEquals("tcpulse-storm", owner.getString("comm"));
        // the namespace's host-wide counters are beside it
        JsonObject host = getJson(agent.port(), "/api/v1/listeners?netns=" + inode)
                .getJsonObject("netstat").getJsonObject(Long.toString(inode));
        assertEquals(ns.tcpExt().get("ListenOverflows"), host.getLong("ListenOverflows"));
        String metrics = get(agent.port(), "/metrics").body();
        assertTrue(metrics.contains("tcpulse_listen_overflows_total{netns=\"" + inode + "\",addr=\"127.0.0.1\",port=\"8201\"} "
                + l.getLong("overflows")), "metrics carry the listener's overflows");
    }

    @Test
    void halfOpenHandshakesFillTheSynQueueWithSyncookiesOff(Netns ns) throws Exception {
        synFlood(ns, false);
    }

    @Test
    void halfOpenHandshakesFillTheSynQueueWithSyncookiesOn(Netns ns) throws Exception {
        synFlood(ns, true);
    }

    /*
     * The flood is repeated every second while the first part waits: a single burst leaves
     * the SYN queue full for about two seconds only (its requests are pruned after two
     * SYN-ACK retransmits once the queue is more than half full), which a loaded machine's
     * polls of the agent, ss and netstat could miss (issue 10: a CI run did). Exactness is
     * judged once the flood stopped and the queue drained, when nothing moves any more.
     */
    private void synFlood(Netns ns, boolean cookies) throws Exception {
        ns.blackholePeer(); // removed with ns
        long inode = ns.inode();
        ns.sysctl("net.ipv4.tcp_syncookies", cookies ? "1" : "0");
        ns.serve("--addr", "0.0.0.0", "--port", "8202", "--backlog", "8");
        // the agent re-reads sysctls every 5 s: the setting must be seen before the verdict is judged
        await(Duration.ofSeconds(10), () -> {
            JsonObject l = listener(inode, 8202);
            return l != null && l.getBoolean("syncookies") == cookies;
        }, () -> "listener " + listener(inode, 8202) + " with tcp_syncookies " + cookies);
        Map<String, Long> before = ns.tcpExt();
        Process flood = ns.spawn("sh", "-c", "while :; do " + stormTool()
                + " synflood --addr 10.98.0.1 --port 8202 --count 30 >/dev/null || exit 1; sleep 1; done");
        JsonObject[] seen = new JsonObject[1];
        try {
            // while it lasts: a full SYN queue, SYN-ACKs retransmitted, the verdict says so
            await(Duration.ofSeconds(20), () -> {
                JsonObject l = listener(inode, 8202);
                seen[0] = l;
                return l != null && l.getLong("synAckRetransmits") > 0 && l.getInteger("synQueue") >= 8
                        && "syn-flood-suspected".equals(l.getString("verdict"))
                        && ns.ssCounts().getOrDefault("SYN_RECV", 0L) >= 8;
            }, () -> "listener " + seen[0] + " vs ss " + ns.ssCounts() + " and TcpExt " + ns.tcpExt()
                    + (flood.isAlive() ? "" : "; the flood loop ended with " + flood.exitValue()));
        } finally {
            flood.destroy();
            flood.waitFor();
        }
        assertEquals(8, seen[0].getInteger("synQueueMax"));
        assertEquals(cookies, seen[0].getBoolean("syncookies"));

        // drained: every SYN-ACK retransmit the kernel counted is the listener's, and its queue is ss's
        long[] kernel = new long[1];
        await(Duration.ofSeconds(30), () -> {
            long retrans = ns.tcpExt().get("TCPSynRetrans") - before.get("TCPSynRetrans");
            JsonObject l = listener(inode, 8202);
            long halfOpen = ns.ssCounts().getOrDefault("SYN_RECV", 0L);
            boolean settled = retrans == ns.tcpExt().get("TCPSynRetrans") - before.get("TCPSynRetrans"); // nothing moved meanwhile
            seen[0] = l;
            kernel[0] = retrans;
            return settled && halfOpen == 0 && l != null && l.getInteger("synQueue") == 0
                    && l.getLong("synAckRetransmits") == retrans;
        }, () -> "listener " + seen[0] + " vs TCPSynRetrans " + kernel[0] + " since the flood, ss " + ns.ssCounts());
        Map<String, Long> after = ns.tcpExt();
        if (cookies) {
            assertTrue(after.get("SyncookiesSent") - before.get("SyncookiesSent") > 0, "cookies sent: " + after);
        } else {
            assertTrue(after.get("TCPReqQFullDrop") - before.get("TCPReqQFullDrop") > 0, "SYN queue drops: " + after);
        }
        Wait.until(Duration.ofSeconds(5), () -> getJson(agent.port(), "/api/v1/listeners?netns=" + inode)
                .getJsonObject("netstat").getJsonObject(Long.toString(inode)), h -> {
                    Map<String, Long> now = ns.tcpExt();
                    return h.getLong("SyncookiesSent").equals(now.get("SyncookiesSent"))
                            && h.getLong("TCPReqQFullDrop").equals(now.get("TCPReqQFullDrop"));
                }, h -> "host counters " + h + " vs " + ns.tcpExt());
    }

    @Test
    void twoListenersInTwoNamespacesOnTheSamePortAreKeptApart(Netns a, Netns b) throws Exception {
        a.serve("--port", "8203", "--backlog", "3");
        b.serve("--port", "8203", "--backlog", "7", "--no-accept");
        b.exec(stormTool(), "connect", "--port", "8203", "--count", "2", "--close", "none", "--hold-seconds", "0");
        await(Duration.ofSeconds(5), () -> listener(a.inode(), 8203) != null && listener(b.inode(), 8203) != null,
                () -> "both listeners listed");
        JsonObject la = listener(a.inode(), 8203), lb = listener(b.inode(), 8203);
        assertEquals(3, la.getInteger("acceptQueueMax"));
        assertEquals(7, lb.getInteger("acceptQueueMax"));
        assertNotEquals(la.getLong("netns"), lb.getLong("netns"));
    }

}
