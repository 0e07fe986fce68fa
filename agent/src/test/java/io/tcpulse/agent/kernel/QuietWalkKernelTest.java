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
        // timewait sockets of earlier tests expire one by one, and each expiry is rightly walked: wait them out
        await(Duration.ofSeconds(90), () -> hostTimewait() == 0, () -> hostTimewait() + " timewait sockets on the host");

        long skipped = walk().getLong("skipped");
        Thread.sleep(1_000); // the request's own segments (a delayed ACK too) are over, and walked once
        long segments = hostSegments();
        Thread.sleep(4_000); // eight walk periods, no request to the agent
        long quiet = hostSegments() - segments;
        long skippedAfter = walk().getLong("skipped");
        // the host's own TCP (other processes) is activity too: only a quiet host can show the skip
        assumeTrue(quiet == 0, quiet + " TCP segments on the host meanwhile: walks rightly went on");
        assertTrue(skippedAfter - skipped >= 4, "walks skipped in 4 s of quiet: " + (skippedAfter - skipped));

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

    private static long hostTimewait() {
        try {
            return io.tcpulse.agent.host.NetnsInfoReader.timewait(Files.readString(Path.of("/proc/net/sockstat")));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Tcp InSegs + OutSegs of the host's namespace. */
    private static long hostSegments() throws Exception {
        String snmp = Files.readString(Path.of("/proc/net/snmp"));
        return io.tcpulse.agent.host.NetnsInfoReader.tcpSegments(snmp);
    }
}
