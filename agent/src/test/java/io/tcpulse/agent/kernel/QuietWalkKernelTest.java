package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 12: idle means asleep. With nothing happening and nothing that changes silently
 * (TIME_WAIT, request sockets, a queue to drain), walks are skipped; the first change
 * brings them back and the counts are exact again.
 */
@KernelTest
@AgentOptions({"--walk-interval-ms", "500"})
class QuietWalkKernelTest {
    private final Main.Agent agent;

    QuietWalkKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void aQuietHostSkipsWalksAndTheFirstChangeBringsThemBack(Netns ns) throws Exception {
        Process server = ns.serve("--port", "8400", "--hold");
        // 20 connections held open on both sides: ESTABLISHED, nothing that expires silently
        Process clients = ns.spawn(stormTool(), "connect", "--port", "8400", "--count", "20", "--close", "none");
        ns.settledSs(Duration.ofSeconds(10), "ESTABLISHED", "LISTEN");
        await(Duration.ofSeconds(10), () -> ns.ssCounts().equals(statesAsSs(agent.port(), ns.inode())),
                () -> "ss " + ns.ssCounts() + ", agent " + statesAsSs(agent.port(), ns.inode()));
        // a window of 4 s with no TCP on the host (segments, timewait count): other processes, or the
        // expiry of earlier tests' timewait sockets, are activity the agent rightly walks for; retried
        long skippedInQuiet = -1;
        for (int attempt = 0; attempt < 12 && skippedInQuiet < 0; attempt++) {
            long skipped = walk().getLong("skipped");
            Thread.sleep(1_000); // the request's own segments (a delayed ACK too) are over, and walked once
            long before = hostActivity();
            Thread.sleep(4_000); // eight walk periods, no request to the agent
            long after = hostActivity();
            long skippedAfter = walk().getLong("skipped");
            if (after == before) skippedInQuiet = skippedAfter - skipped;
        }
        assumeTrue(skippedInQuiet >= 0, "the host was never quiet for 4 s: walks rightly went on");
        assertTrue(skippedInQuiet >= 4, "walks skipped in 4 s of quiet: " + skippedInQuiet);

        // a change: walks resume and the counts follow it exactly
        clients.destroy(); // SIGTERM: the clients close their 20
        clients.waitFor();
        ns.exec(stormTool(), "connect", "--port", "8400", "--count", "5", "--close", "client");
        await(Duration.ofSeconds(10), () -> ns.ssCounts().equals(statesAsSs(agent.port(), ns.inode())),
                () -> "ss " + ns.ssCounts() + ", agent " + statesAsSs(agent.port(), ns.inode()));
        server.destroy();
    }

    private JsonObject walk() throws Exception {
        return getJson(agent.port(), "/api/v1/health").getJsonObject("walk");
    }

    /** TCP segments and timewait sockets of the host's namespace: any change is activity. */
    static long hostActivity() throws Exception {
        long tw = io.tcpulse.agent.host.NetnsInfoReader.timewait(Files.readString(Path.of("/proc/net/sockstat")));
        return hostSegments() + (tw << 40);
    }

    /** Tcp InSegs + OutSegs of the host's namespace. */
    private static long hostSegments() throws Exception {
        String snmp = Files.readString(Path.of("/proc/net/snmp"));
        return io.tcpulse.agent.host.NetnsInfoReader.tcpSegments(snmp);
    }
}
