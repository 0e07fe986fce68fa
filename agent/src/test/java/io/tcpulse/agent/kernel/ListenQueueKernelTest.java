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

    private void synFlood(Netns ns, boolean cookies) throws Exception {
        ns.blackholePeer(); // removed with ns
        long inode = ns.inode();
        ns.sysctl("net.ipv4.tcp_syncookies", cookies ? "1" : "0");
        ns.serve("--addr", "0.0.0.0", "--port", "8202", "--backlog", "8");
        // the agent re-reads sysctls every 5 s: the flood's window (SYN-ACK retransmits before
        // the queue is pruned) is shorter, so the setting must be seen first
        await(Duration.ofSeconds(10), () -> {
            JsonObject l = listener(inode, 8202);
            return l != null && l.getBoolean("syncookies") == cookies;
        }, () -> "listener " + listener(inode, 8202) + " with tcp_syncookies " + cookies);
        Map<String, Long> before = ns.tcpExt();
        ns.exec(stormTool(), "synflood", "--addr", "10.98.0.1", "--port", "8202", "--count", "30");
        // SYN-ACKs are retransmitted after 1 s; wait for them to be counted (a full queue of
        // old requests is pruned after two retransmits, so this holds for a few seconds only)
        JsonObject[] seen = new JsonObject[1];
        await(Duration.ofSeconds(10), () -> {
            JsonObject l = listener(inode, 8202);
            Map<String, Long> now = ns.tcpExt();
            long retrans = now.get("TCPSynRetrans") - before.get("TCPSynRetrans");
            long halfOpen = ns.ssCounts().getOrDefault("SYN_RECV", 0L);
            seen[0] = l;
            return l != null && retrans > 0 && l.getLong("synAckRetransmits") == retrans
                    && halfOpen >= 8 && l.getInteger("synQueue") == halfOpen
                    && "syn-flood-suspected".equals(l.getString("verdict"));
        }, () -> "listener " + seen[0] + " vs ss " + ns.ssCounts() + " and TcpExt " + ns.tcpExt());
        JsonObject l = seen[0];
        assertEquals(8, l.getInteger("synQueueMax"));
        assertEquals(cookies, l.getBoolean("syncookies"));
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
