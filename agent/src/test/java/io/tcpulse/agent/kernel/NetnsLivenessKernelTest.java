package io.tcpulse.agent.kernel;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A namespace is gone only when the kernel says so (issue 10): the agent as the unit runs
 * it (nobody, CAP_BPF + CAP_PERFMON) cannot open a namespace another user made with
 * `unshare --net` and not pinned under /run/netns, nor see it in /proc. Its counters must
 * stay while a process lives there, and go once it is gone. The 60 s grace is shortened to
 * 3 s (TCPULSE_NETNS_FORGET_GRACE_MS) so the waits stay short.
 */
@KernelTest
class NetnsLivenessKernelTest {
    private static final int NOBODY = 65534;
    private static final long GRACE_MS = 3000;
    private static WorldReadableAgent world;

    @BeforeAll
    static void copyClasspath() throws IOException {
        requireRootAndBpf();
        world = WorldReadableAgent.create();
    }

    @AfterAll
    static void removeCopy() throws IOException {
        if (world != null) world.close();
    }

    @Test
    void countersOfANamespaceTheAgentCannotOpenLiveAsLongAsIt() throws Exception {
        try (Child agent = agent(); Traffic ns = Traffic.start()) {
            JsonObject health = getJson(agent.port, "/api/v1/health");
            assertTrue(health.getJsonObject("probe").getJsonArray("features").stream()
                    .map(JsonObject.class::cast).anyMatch(f -> f.getString("name").equals("socketHolders") && f.getBoolean("on")),
                    "iter/task_file must run with CAP_BPF + CAP_PERFMON only: " + health.encode());
            ns.connect(200);
            awaitEstablished(agent, ns.netns, 200);
            // well past the grace and the namespace liveness cache (10 s): still alive, still counted
            Thread.sleep(GRACE_MS + 12_000);
            ns.connect(200);
            awaitEstablished(agent, ns.netns, 400);

            ns.close(); // the namespace ends with its only process
            await(Duration.ofSeconds(40), () -> transitionsOf(agent.port, ns.netns).isEmpty(),
                    () -> "counters of namespace " + ns.netns + " kept after it ended: " + transitionsOf(agent.port, ns.netns));
        }
    }

    @Test
    void withoutTheKernelsWalkTheyGoAfterTheGraceAsProcSays() throws Exception {
        try (Child agent = agent("--disable-feature", "socketHolders"); Traffic ns = Traffic.start()) {
            ns.connect(200);
            Thread.sleep(GRACE_MS + 5_000);
            ns.connect(200);
            Thread.sleep(3000);
            // /proc hides the namespace from nobody: taken for gone and forgotten, the "0 of 400"
            assertNotEquals(400L, transitionsOf(agent.port, ns.netns).get("SYN_SENT>ESTABLISHED"),
                    "the control must show what the kernel's walk prevents");
        }
    }

    static void awaitEstablished(Child agent, long netns, long n) throws InterruptedException {
        await(Duration.ofSeconds(20), () -> Long.valueOf(n).equals(transitionsOf(agent.port, netns).get("SYN_SENT>ESTABLISHED")),
                () -> "netns " + netns + ": " + transitionsOf(agent.port, netns) + ", expected SYN_SENT>ESTABLISHED " + n
                        + "\n" + agent.log());
    }

    /** The unit's agent: nobody with CAP_BPF and CAP_PERFMON, the grace shortened. */
    static Child agent(String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon"));
        cmd.addAll(world.javaCommand());
        cmd.addAll(List.of("--listen", "127.0.0.1:0", "--walk-interval-ms", "300",
                "--state-dir", world.scratchDir("state-").toString()));
        cmd.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(world.scratch.toFile()).redirectErrorStream(true);
        pb.environment().put("TCPULSE_NETNS_FORGET_GRACE_MS", Long.toString(GRACE_MS));
        Process p = pb.start();
        ChildOutput out = ChildOutput.follow(p, "liveness-agent-output");
        return new Child(p, out.port(), out.log());
    }

    record Child(Process process, int port, StringBuffer logBuf) implements AutoCloseable {
        String log() { return logBuf.toString(); }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** A namespace of root's, made by unshare and held by one python process only. */
    static final class Traffic implements AutoCloseable {
        final Process process;
        final long netns;
        private final BufferedReader in;
        private final Writer out;

        private Traffic(Process process, long netns, BufferedReader in, Writer out) {
            this.process = process;
            this.netns = netns;
            this.in = in;
            this.out = out;
        }

        static Traffic start() throws IOException {
            Path script = Path.of("src/test/resources/holders/netns_traffic.py").toAbsolutePath();
            Process p = new ProcessBuilder("unshare", "--net", "python3", script.toString()).redirectErrorStream(true).start();
            BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null || !line.startsWith("netns=")) throw new IOException("namespace did not start: " + line);
            return new Traffic(p, Long.parseLong(line.substring(6)), in,
                    new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8));
        }

        void connect(int n) throws IOException {
            out.write("connect " + n + "\n");
            out.flush();
            String line = in.readLine();
            if (!"done".equals(line)) throw new IOException("connections failed: " + line);
        }

        @Override
        public void close() throws InterruptedException {
            try {
                out.close();
            } catch (IOException e) {
                // gone already
            }
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
