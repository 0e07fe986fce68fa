package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.Probe;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What kernel tests share: the requirement check (a kernel test that cannot run
 * fails rather than passing quietly), the agent under test, HTTP, and ss parsing.
 */
public final class KernelTestSupport {
    private KernelTestSupport() {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Fails the test when it cannot run here; -Dtcpulse.allowSkip=true turns that into a skip. */
    public static void requireRootAndBpf() {
        String problem = null;
        if (!isRoot()) problem = "kernel tests need root (they load BPF programs and create network namespaces)";
        else if (!Probe.isAvailable()) problem = "BPF probe unavailable: " + Probe.unavailabilityCause();
        if (problem == null) return;
        if (Boolean.getBoolean("tcpulse.allowSkip")) Assumptions.abort(problem);
        fail(problem + " — run as root, or pass -Dtcpulse.allowSkip=true to skip knowingly");
    }

    public static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) return line.split("\\s+")[2].equals("0");
            }
        } catch (IOException ignored) {
            // not Linux
        }
        return false;
    }

    /** The storm/test-peer tool built by native/Makefile. */
    public static String stormTool() {
        Path p = Path.of(System.getProperty("tcpulse.native.bin", "target/native/bin"), "tcpulse-storm");
        if (!Files.isExecutable(p)) fail("test tool missing: " + p + " (built by native/Makefile)");
        return p.toAbsolutePath().toString();
    }

    static Main.Agent startAgent(String... extraArgs) throws Exception {
        String[] args = new String[extraArgs.length + 2];
        args[0] = "--listen";
        args[1] = "127.0.0.1:0";
        System.arraycopy(extraArgs, 0, args, 2, extraArgs.length);
        return Main.Agent.start(Config.parse(args));
    }

    public static HttpResponse<String> get(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build();
        return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
    }

    public static JsonObject getJson(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> r = get(port, pathAndQuery);
        if (r.statusCode() != 200) fail("GET " + pathAndQuery + " -> " + r.statusCode() + " " + r.body());
        return new JsonObject(r.body());
    }

    /** The listener on port in /api/v1/listeners of one namespace, or null while there is none. */
    public static JsonObject listener(int agentPort, long netns, int port) {
        try {
            return getJson(agentPort, "/api/v1/listeners?netns=" + netns).getJsonArray("listeners").stream()
                    .map(JsonObject.class::cast).filter(l -> l.getInteger("port") == port).findFirst().orElse(null);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** /api/v1/states of one namespace as a map with every counted state. */
    static Map<TcpState, Long> apiStates(int port, long netns) throws IOException, InterruptedException {
        JsonObject states = getJson(port, "/api/v1/states?netns=" + netns).getJsonObject("states");
        Map<TcpState, Long> out = new EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) out.put(s, states.getLong(s.name()));
        return out;
    }

    /**
     * The agent's counts folded the way ss shows them: ss prints request sockets
     * (NEW_SYN_RECV) as SYN-RECV.
     */
    static Map<String, Long> asSs(Map<TcpState, Long> counts) {
        Map<String, Long> out = new java.util.TreeMap<>();
        counts.forEach((s, n) -> {
            String name = s == TcpState.NEW_SYN_RECV ? "SYN_RECV" : s.name();
            if (n != 0) out.merge(name, n, Long::sum);
        });
        return out;
    }

    /** Waits until supplier returns true, or fails with the message after the timeout. */
    static void await(Duration timeout, Supplier<Boolean> done, Supplier<String> message) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (done.get()) return;
            Thread.sleep(100);
        }
        if (!done.get()) fail(message.get());
    }
}
