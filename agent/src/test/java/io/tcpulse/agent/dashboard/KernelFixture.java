package io.tcpulse.agent.dashboard;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the dashboard's kernel tests need: the requirement check (fail, never skip,
 * unless -Dtcpulse.allowSkip=true), an in-process agent, HTTP, and a network namespace
 * of the test's own with the tcpulse-storm tool (the kernel package's Netns, trimmed).
 */
final class KernelFixture {
    private KernelFixture() {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static void requireRootAndBpf() {
        io.tcpulse.agent.kernel.KernelTestSupport.requireRootAndBpf();
    }

    static String stormTool() {
        return io.tcpulse.agent.kernel.KernelTestSupport.stormTool();
    }

    /** An agent listening on 127.0.0.1:port (0: any free port). */
    static Main.Agent startAgent(int port) throws Exception {
        return Main.Agent.start(Config.parse(new String[]{"--listen", "127.0.0.1:" + port, "--walk-interval-ms", "500"}));
    }

    static JsonObject getJson(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<String> r = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("GET " + pathAndQuery + " -> " + r.statusCode() + " " + r.body());
        return new JsonObject(r.body());
    }

    /** A network namespace (ip netns), loopback up; its processes are stopped and it is removed on close. */
    static final class Netns implements AutoCloseable {
        final String name;
        private final List<Process> processes = new ArrayList<>();

        private Netns(String name) {
            this.name = name;
        }

        static Netns create() throws IOException, InterruptedException {
            Netns ns = new Netns("tcpulse-d-" + UUID.randomUUID().toString().substring(0, 8));
            run(true, "ip", "netns", "add", ns.name);
            run(true, "ip", "-n", ns.name, "link", "set", "lo", "up");
            return ns;
        }

        long inode() throws IOException {
            return ((Number) Files.getAttribute(Path.of("/run/netns", name), "unix:ino")).longValue();
        }

        /** Runs a command in the namespace to completion; a non-zero exit fails unless allowed. */
        String exec(boolean mustSucceed, String... cmd) throws IOException, InterruptedException {
            List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
            full.addAll(List.of(cmd));
            return run(mustSucceed, full.toArray(String[]::new));
        }

        Process spawn(String... cmd) throws IOException {
            List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
            full.addAll(List.of(cmd));
            Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
            processes.add(p);
            return p;
        }

        /** Starts `tool serve ARGS` and waits for its "ready" line. */
        Process serve(String tool, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(tool, "serve"));
            cmd.addAll(List.of(args));
            Process p = spawn(cmd.toArray(String[]::new));
            BufferedReader reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = reader.readLine();
            if (line == null || !line.startsWith("ready")) throw new IOException("serve did not start: " + line);
            return p;
        }

        static String run(boolean mustSucceed, String... cmd) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
            if (mustSucceed && p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out);
            }
            return out;
        }

        @Override
        public void close() throws IOException, InterruptedException {
            for (Process p : processes) {
                p.destroy();
                if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            run(true, "ip", "netns", "del", name);
        }
    }
}
