package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.Probe;
import io.vertx.core.json.JsonObject;
import io.tcpulse.agent.testing.Wait;
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
        String problem = requirementProblem();
        if (problem == null) return;
        if (Boolean.getBoolean("tcpulse.allowSkip")) Assumptions.abort(problem);
        fail(problem + " — run as root, or pass -Dtcpulse.allowSkip=true to skip knowingly");
    }

    private static String requirement;

    /** Why kernel tests cannot run here, or null; asked once per JVM. */
    private static synchronized String requirementProblem() {
        if (requirement == null) {
            if (!isRoot()) requirement = "kernel tests need root (they load BPF programs and create network namespaces)";
            else if (!Probe.isAvailable()) requirement = "BPF probe unavailable: " + Probe.unavailabilityCause();
            else requirement = "";
        }
        return requirement.isEmpty() ? null : requirement;
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
    public static Map<TcpState, Long> apiStates(int port, long netns) throws IOException, InterruptedException {
        JsonObject states = getJson(port, "/api/v1/states?netns=" + netns).getJsonObject("states");
        Map<TcpState, Long> out = new EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) out.put(s, states.getLong(s.name()));
        return out;
    }

    /**
     * The agent's counts folded the way ss shows them: ss prints request sockets
     * (NEW_SYN_RECV) as SYN-RECV.
     */
    public static Map<String, Long> asSs(Map<TcpState, Long> counts) {
        Map<String, Long> out = new java.util.TreeMap<>();
        counts.forEach((s, n) -> {
            String name = s == TcpState.NEW_SYN_RECV ? "SYN_RECV" : s.name();
            if (n != 0) out.merge(name, n, Long::sum);
        });
        return out;
    }

    /**
     * n connections to a server on port in ns, the client closing first, each run to its end;
     * returns every transition that makes, exactly ("FROM>TO" -> count), as {@link #transitionsOf} reads them.
     */
    public static Map<String, Long> clientCloseRound(Netns ns, int port, int n) throws IOException, InterruptedException {
        ns.serve("--port", String.valueOf(port), "--backlog", "4096"); // no accept-queue overflow under CPU contention
        ns.exec(stormTool(), "connect", "--port", String.valueOf(port), "--count", String.valueOf(n), "--close", "client");
        return clientCloseExpected(n);
    }

    /** Every transition a client-close round of n connections makes, its listener's birth included. */
    public static Map<String, Long> clientCloseExpected(int n) {
        Map<String, Long> expected = new java.util.TreeMap<>();
        expected.put("CLOSE>LISTEN", 1L);
        for (String t : new String[] {"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED",
                "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE",
                "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}) {
            expected.put(t, (long) n);
        }
        return expected;
    }

    /** /api/v1/peers of a namespace, by remote ("ip:port"). */
    public static Map<String, JsonObject> peersOf(int apiPort, long netns) {
        Map<String, JsonObject> out = new java.util.TreeMap<>();
        for (Object o : json(apiPort, "/api/v1/peers?netns=" + netns).getJsonArray("peers")) {
            out.put(((JsonObject) o).getString("remote"), (JsonObject) o);
        }
        return out;
    }

    /** The "states" object of a peer or listener as "STATE" -> count; empty for null. */
    public static Map<String, Long> statesOf(JsonObject peerOrListener) {
        Map<String, Long> out = new java.util.TreeMap<>();
        if (peerOrListener != null) {
            peerOrListener.getJsonObject("states").forEach(e -> out.put(e.getKey(), ((Number) e.getValue()).longValue()));
        }
        return out;
    }

    /** /api/v1/health of the agent at port, for await conditions (no checked exception). */
    public static JsonObject healthOf(int port) {
        return json(port, "/api/v1/health");
    }

    /** The exact (not derived) transitions of a namespace from /api/v1/transitions, "FROM>TO" -> count. */
    public static Map<String, Long> transitionsOf(int apiPort, long netns) {
        Map<String, Long> out = new java.util.TreeMap<>();
        for (Object o : json(apiPort, "/api/v1/transitions?netns=" + netns).getJsonArray("transitions")) {
            JsonObject t = (JsonObject) o;
            if (!t.getBoolean("derived")) out.put(t.getString("from") + ">" + t.getString("to"), t.getLong("count"));
        }
        return out;
    }

    /** getJson for await conditions and messages: no checked exception. */
    private static JsonObject json(int apiPort, String path) {
        try {
            return getJson(apiPort, path);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The agent's states of a namespace, folded as ss shows them, or an error text (for await messages). */
    public static Object statesAsSs(int apiPort, long netns) {
        try {
            return asSs(apiStates(apiPort, netns));
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e.toString();
        }
    }

    /** Waits until supplier returns true, or fails with the message after the timeout (see {@link Wait}). */
    public static void await(Duration timeout, Supplier<Boolean> done, Supplier<String> message) throws InterruptedException {
        Wait.until(timeout, done::get, message);
    }

    /**
     * Transitions as counted, against those expected: equal, or short only by state changes
     * the agent reports lost since lostBefore (events.stateChangesLost: the kernel refused both
     * state-change programs), never more.
     */
    public static boolean exactButForLost(Map<String, Long> expected, Map<String, Long> got, long lostBefore, long lostNow) {
        if (expected.equals(got)) return true;
        if (!expected.keySet().containsAll(got.keySet())) return false;
        long shortBy = 0;
        for (Map.Entry<String, Long> e : expected.entrySet()) {
            long have = got.getOrDefault(e.getKey(), 0L);
            if (have > e.getValue()) return false;
            shortBy += e.getValue() - have;
        }
        return shortBy <= lostNow - lostBefore;
    }
}
