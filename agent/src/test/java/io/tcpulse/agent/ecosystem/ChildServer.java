package io.tcpulse.agent.ecosystem;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * One of Debian's Prometheus programs (prometheus, prometheus-alertmanager) run by a test
 * as a child process on a loopback port with storage in the test's directory: never the
 * system service the package may have set up. Its output goes to a log file the failure
 * messages quote.
 */
final class ChildServer implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final int port;
    final Path log;
    private final Process process;

    private ChildServer(int port, Path log, Process process) {
        this.port = port;
        this.log = log;
        this.process = process;
    }

    /** The program, or the test fails (scripts/install-deps.sh test installs it); -Dtcpulse.allowSkip=true skips. */
    static String require(String program, String debianPackage) {
        Path p = Path.of("/usr/bin", program);
        if (Files.isExecutable(p)) return p.toString();
        String problem = p + " is missing: install Debian's " + debianPackage + " (scripts/install-deps.sh test)";
        if (Boolean.getBoolean("tcpulse.allowSkip")) Assumptions.abort(problem);
        fail(problem);
        return null;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Starts argv (with PORT in any argument replaced by a free port) and waits for GET readyPath to answer 200. */
    static ChildServer start(Path dir, String name, String readyPath, String... argv) throws Exception {
        int port = freePort();
        List<String> cmd = new ArrayList<>();
        for (String a : argv) cmd.add(a.replace("PORT", Integer.toString(port)));
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        ChildServer s = new ChildServer(port, log, p);
        Instant deadline = Instant.now().plusSeconds(30);
        while (true) {
            if (!p.isAlive()) fail(name + " exited with " + p.exitValue() + ":\n" + s.logText());
            try {
                if (s.get(readyPath).statusCode() == 200) return s;
            } catch (IOException notYet) {
                // not listening yet
            }
            if (Instant.now().isAfter(deadline)) {
                s.close();
                fail(name + " not ready on port " + port + " after 30 s:\n" + s.logText());
            }
            Thread.sleep(100);
        }
    }

    String url() { return "http://127.0.0.1:" + port; }

    HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url() + pathAndQuery)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    String logText() {
        try {
            String t = Files.readString(log);
            return t.length() > 4000 ? "…" + t.substring(t.length() - 4000) : t;
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    }
}
