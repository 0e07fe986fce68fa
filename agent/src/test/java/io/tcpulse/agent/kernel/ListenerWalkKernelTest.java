package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 12: when nothing happens but a listener has connections waiting for accept(),
 * which drains them with no event and no segment, the agent walks the listeners alone
 * (iter/tcp visits them first and the walk stops there), not every socket.
 */
@KernelTest
@AgentOptions({"--walk-interval-ms", "300"})
class ListenerWalkKernelTest {
    /** Listens with backlog 16, says "ready", accepts everything waiting when a line comes on stdin, then holds. */
    static final String LAZY_SERVER = """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 8410)); s.listen(16)
            print("ready", flush=True)
            sys.stdin.readline()
            s.setblocking(False)
            held = []
            while True:
                try: held.append(s.accept()[0])
                except BlockingIOError: break
            print(len(held), flush=True)
            sys.stdin.readline()
            """;

    private final Main.Agent agent;

    ListenerWalkKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void aQueueDrainedWithoutAnEventIsSeenByWalkingTheListenersAlone(Netns ns) throws Exception {
        Process server = ns.spawn("python3", "-c", LAZY_SERVER);
        BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        OutputStream in = server.getOutputStream();
        try {
            assertEquals("ready", out.readLine());
            Process clients = ns.spawn(stormTool(), "connect", "--port", "8410", "--count", "5", "--close", "none");
            await(Duration.ofSeconds(10), () -> acceptQueue(ns.inode()) == 5, () -> "accept queue: " + listener(ns.inode()));

            // a window with no TCP on the host (segments, timewait count; retried): the queue is all that may
            // move, so the walks in it are of listeners alone
            JsonObject before = null, after = null;
            for (int attempt = 0; attempt < 12 && after == null; attempt++) {
                JsonObject w = walk();
                Thread.sleep(1_000); // the request's own segments are over, and walked once
                long activity = QuietWalkKernelTest.hostActivity();
                Thread.sleep(2_000); // no request to the agent: about six walk periods
                if (QuietWalkKernelTest.hostActivity() == activity) {
                    before = w;
                    after = walk();
                }
            }
            assumeTrue(after != null, "the host was never quiet for 2 s: full walks rightly went on");
            assertTrue(after.getLong("listenerWalks") >= before.getLong("listenerWalks") + 4,
                    "listeners-only walks in 2 s of quiet: " + before + " -> " + after);

            // accept() drains the queue: no event, no segment; the next listeners walk sees it
            long fullWalk = walk().getLong("lastMillis");
            in.write('\n');
            in.flush();
            assertEquals("5", out.readLine());
            await(Duration.ofSeconds(5), () -> acceptQueue(ns.inode()) == 0, () -> "accept queue after accept(): " + listener(ns.inode()) + ", walk " + walk() + ", now " + System.currentTimeMillis());
            JsonObject w = walk();
            // and stays so: a full walk (these requests are activity) must not bring back an older walk's queue
            long lastFull = w.getLong("lastMillis");
            await(Duration.ofSeconds(15), () -> walk().getLong("lastMillis") > lastFull, () -> "no full walk: " + walk());
            assertEquals(0, acceptQueue(ns.inode()), () -> "after a full walk: " + listener(ns.inode()));
            if (w.getLong("lastMillis") == fullWalk) {
                // no full walk came between: the listeners-only walk told the drained queue
                assertTrue(w.getLong("listenerWalks") > 0, w.encode());
            }
            assertEquals(ns.ssCounts(), statesAsSs(agent.port(), ns.inode()), "the state counts stay exact");
            clients.destroy();
        } finally {
            server.destroy();
        }
    }

    @Test
    void aListenersOnlyWalkReturnsEveryListenerAndNothingElse(Netns ns) throws Exception {
        Process server = ns.serve("--port", "8411", "--hold");
        Process v6 = ns.spawn("python3", "-c", "import socket, time\n"
                + "s = socket.socket(socket.AF_INET6); s.bind(('::1', 8412)); s.listen(8)\ntime.sleep(120)");
        Process clients = ns.spawn(stormTool(), "connect", "--port", "8411", "--count", "50", "--close", "none");
        try {
            ns.settledSs(Duration.ofSeconds(10), "ESTABLISHED", "LISTEN");
            try (io.tcpulse.agent.probe.Probe probe = io.tcpulse.agent.probe.Probe.open(
                    new io.tcpulse.agent.probe.Probe.Options(0, 0, 0, false))) {
                java.nio.ByteBuffer all = probe.walk(ns.path());
                int everything = all.limit() / io.tcpulse.agent.probe.EventDecoder.SOCK_SIZE;
                java.nio.ByteBuffer raw = probe.walkListeners(ns.path());
                int n = raw.limit() / io.tcpulse.agent.probe.EventDecoder.SOCK_SIZE;
                java.util.List<Integer> states = new java.util.ArrayList<>();
                for (int i = 0; i < n; i++) {
                    states.add(raw.get(i * io.tcpulse.agent.probe.EventDecoder.SOCK_SIZE + io.tcpulse.agent.probe.EventDecoder.SK_STATE) & 0xff);
                }
                assertEquals(ns.ssCounts().get("LISTEN"), (long) n, "listeners walked: states " + states);
                assertTrue(states.stream().allMatch(st -> st == 10), "only listeners: " + states);
                assertEquals(2, n, "the IPv4 and the IPv6 listener: " + states);
                assertEquals(ns.fullSockets(), (long) everything, "the full walk still walks everything");
            }
        } finally {
            clients.destroy();
            server.destroy();
            v6.destroy();
        }
    }

    private JsonObject walk() {
        return healthOf(agent.port()).getJsonObject("walk");
    }

    private long acceptQueue(long inode) {
        JsonObject l = listener(inode);
        return l == null ? -1 : l.getLong("acceptQueue");
    }

    private JsonObject listener(long inode) {
        try {
            for (Object o : getJson(agent.port(), "/api/v1/listeners?netns=" + inode).getJsonArray("listeners")) {
                JsonObject l = (JsonObject) o;
                if (l.getInteger("port") == 8410) return l;
            }
            return null;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
