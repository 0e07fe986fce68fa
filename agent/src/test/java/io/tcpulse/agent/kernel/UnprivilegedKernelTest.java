package io.tcpulse.agent.kernel;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The agent as the systemd unit runs it: a user that is not root (nobody, 65534) holding
 * CAP_BPF and CAP_PERFMON and nothing else, started with setpriv. It must load and attach
 * its programs and report sockets; without those capabilities it must say which is missing.
 */
@KernelTest
class UnprivilegedKernelTest {
    private static final int NOBODY = 65534;
    private static final String CAPS = "+bpf,+perfmon";

    private static WorldReadableAgent world;

    @BeforeAll
    static void copyClasspath() throws IOException {
        world = WorldReadableAgent.create();
    }

    @AfterAll
    static void removeCopy() throws IOException {
        if (world != null) world.close();
    }

    @Test
    void withBpfAndPerfmonOnlyTheProbeLoadsAndReportsSockets() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort());
             Socket served = listener.accept();
             Agent agent = Agent.start(CAPS)) {
            JsonObject health = getJson(agent.port, "/api/v1/health");
            assertEquals("ok", health.getString("status"), agent.log());
            assertTrue(health.getJsonObject("probe").getBoolean("available"), health.encode());
            assertEquals("bpf", health.getJsonObject("probe").getString("mode"));

            // the start-up iter/tcp walk saw the sockets made before the agent
            JsonObject states = getJson(agent.port, "/api/v1/states?netns=" + ownNetns()).getJsonObject("states");
            assertTrue(states.getLong("LISTEN") >= 1, states.encode());
            assertTrue(states.getLong("ESTABLISHED") >= 2, states.encode());

            // tp_btf delivers events: a new connection to our listener shows up
            int port = listener.getLocalPort();
            try (Socket again = new Socket(InetAddress.getLoopbackAddress(), port); Socket accepted = listener.accept()) {
                await(Duration.ofSeconds(10), () -> !events(agent.port, port).isEmpty(),
                        () -> "no events for port " + port + " from the unprivileged agent\n" + agent.log());
            }
            assertEquals(String.valueOf(NOBODY), agent.uid(), "the agent must run as nobody");
        }
    }

    @Test
    void withoutCapabilitiesHealthNamesThemAndTheAgentStillServes() throws Exception {
        try (Agent agent = Agent.start(null)) {
            JsonObject health = getJson(agent.port, "/api/v1/health");
            assertEquals("degraded", health.getString("status"));
            JsonObject probe = health.getJsonObject("probe");
            assertFalse(probe.getBoolean("available"));
            assertEquals("procfs", probe.getString("mode"));
            String cause = probe.getString("cause");
            assertTrue(cause.contains("missing capability CAP_BPF and CAP_PERFMON"), cause);
            // degraded, not dead: /proc/net/tcp still gives states
            JsonObject states = getJson(agent.port, "/api/v1/states").getJsonObject("states");
            assertTrue(states.getLong("LISTEN") >= 1, states.encode());
        }
    }

    @Test
    void checkPassesWithTheUnitsCapabilities() throws Exception {
        Run r = runAsNobody(CAPS, "check", "--listen", "127.0.0.1:0");
        assertEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("PASS  probe"), r.output);
        assertTrue(r.output.contains("result: ready"), r.output);
    }

    @Test
    void checkNamesTheMissingCapability() throws Exception {
        Run r = runAsNobody("+bpf", "check", "--listen", "127.0.0.1:0");
        assertEquals(1, r.exit, r.output);
        assertTrue(r.output.contains("FAIL  capabilities  missing CAP_PERFMON for the probe"), r.output);
        assertTrue(r.output.contains("FAIL  probe         cannot load"), r.output);
        assertTrue(r.output.contains("missing capability CAP_PERFMON (held: CAP_BPF)"), r.output);
        assertTrue(r.output.contains("result: NOT ready"), r.output);
    }

    // ---- the agent as another user ----

    /** setpriv + java with the world-readable classpath; caps null: none at all. */
    static List<String> command(String caps, String... args) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        if (caps != null) {
            cmd.add("--inh-caps=" + caps);
            cmd.add("--ambient-caps=" + caps);
        } else {
            cmd.add("--inh-caps=-all");
        }
        cmd.addAll(world.javaCommand());
        cmd.addAll(List.of(args));
        return cmd;
    }

    record Run(int exit, String output) {}

    static Run runAsNobody(String caps, String... args) throws Exception {
        Process p = new ProcessBuilder(command(caps, args)).directory(world.scratch.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + out);
        return new Run(p.exitValue(), out);
    }

    /** A running agent process; its output is kept for failure messages. */
    static final class Agent implements AutoCloseable {
        final Process process;
        final int port;
        private final StringBuffer log;

        private Agent(Process process, int port, StringBuffer log) {
            this.process = process;
            this.port = port;
            this.log = log;
        }

        static Agent start(String caps) throws Exception {
            Path state = world.scratchDir("state-");
            Process p = new ProcessBuilder(command(caps, "--listen", "127.0.0.1:0", "--state-dir", state.toString()))
                    .directory(world.scratch.toFile()).redirectErrorStream(true).start();
            ChildOutput out = ChildOutput.follow(p, "unprivileged-agent-output");
            return new Agent(p, out.port(), out.log());
        }

        String log() { return log.toString(); }

        /** Real uid of the process, from /proc. */
        String uid() throws IOException {
            for (String l : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (l.startsWith("Uid:")) return l.split("\\s+")[1];
            }
            return "?";
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---- helpers ----

    private static JsonArray events(int apiPort, int port) {
        try {
            return getJson(apiPort, "/api/v1/events?port=" + port).getJsonArray("events");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static long ownNetns() throws IOException {
        return ((Number) Files.getAttribute(Path.of("/proc/self/ns/net"), "unix:ino")).longValue();
    }
}
