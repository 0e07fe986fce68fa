package io.tcpulse.agent;

import io.tcpulse.agent.testing.Wait;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The agent as a process: how it refuses to start, and how it stops. */
class AgentProcessTest {

    static ProcessBuilder agent(Path stateDir, String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // SIGHUP at its default whatever started the build (a nohup'd runner would have it ignored, and the
        // JVM keeps an ignored SIGHUP ignored): the reload tests send it
        List<String> cmd = new ArrayList<>(List.of("env", "--default-signal=HUP", java, "-cp", cp, "io.tcpulse.agent.Main",
                "--no-probe", "--state-dir", stateDir.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    @Test
    void aTakenPortIsOneClearLineAndExitOne() throws Exception {
        Path state = Files.createTempDirectory("tcpulse-proc-");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Process p = agent(state, "--listen", "127.0.0.1:" + taken.getLocalPort()).start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the agent did not exit");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, p.exitValue(), out);
            assertTrue(out.contains("tcpulse: cannot listen on 127.0.0.1:" + taken.getLocalPort()), out);
            assertFalse(out.contains("Exception in thread"), out);
        } finally {
            deleteTree(state);
        }
    }

    @Test
    void sigtermStopsItPromptly() throws Exception {
        Path state = Files.createTempDirectory("tcpulse-proc-");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Process p = agent(state, "--listen", "127.0.0.1:" + port).start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            Wait.until(Duration.ofSeconds(30), () -> {
                try {
                    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/health")).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                } catch (java.io.IOException notYet) {
                    return false;
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, () -> "the agent never answered");
            // an open event stream must not hold the shutdown up: open (its head received) before the SIGTERM
            HttpResponse<java.io.InputStream> stream = http.sendAsync(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/stream")).build(),
                    HttpResponse.BodyHandlers.ofInputStream()).get(30, TimeUnit.SECONDS);
            assertEquals(200, stream.statusCode(), "the event stream did not open");
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(15, TimeUnit.SECONDS), "the agent did not stop within 15 s of SIGTERM");
        } finally {
            p.destroyForcibly();
            deleteTree(state);
        }
    }

    static void deleteTree(Path root) throws java.io.IOException {
        try (var all = Files.walk(root)) {
            all.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
