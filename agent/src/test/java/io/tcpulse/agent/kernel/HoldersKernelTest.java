package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Owners are the processes holding the sockets (issue 15): a prefork server, descriptors
 * handed over with SCM_RIGHTS, a socket inherited across fork. Every owner the agent
 * reports must be what `ss -tanp` shows in the namespace.
 */
@KernelTest
class HoldersKernelTest {
    static Main.Agent agent;
    /** Where the agent's owners come from: the kernel's walk, or /proc in the fallback's subclass. */
    static String expectedSource = "kernel";

    @BeforeAll
    static void start() throws Exception {
        requireRootAndBpf();
        agent = startAgent("--walk-interval-ms", "300");
    }

    @AfterAll
    static void stop() {
        if (agent != null) agent.close();
    }

    @Test
    void preforkLeakIsTheWorkersAndTheListenerListsTheWorkers() throws Exception {
        try (Netns ns = Netns.create()) {
            Map<String, Long> pids = shape(ns, "prefork", 8701, 20);
            long parent = pids.get("parent"), a = pids.get("workerA"), b = pids.get("workerB");
            long inode = ns.inode();
            await(Duration.ofSeconds(45), () -> {
                JsonObject o = ownerOf(inode, a);
                return o != null && o.getLong("count") == 20 && listenerHolders(inode, 8701).size() == 3;
            }, () -> "closewait " + api("/api/v1/closewait?netns=" + inode).encode() + "\nlisteners "
                    + api("/api/v1/listeners?netns=" + inode).encode() + "\nss " + ssp(ns));
            assertNull(ownerOf(inode, parent), "the parent holds no CLOSE_WAIT socket: "
                    + api("/api/v1/closewait?netns=" + inode).encode());
            JsonObject cw = api("/api/v1/closewait?netns=" + inode);
            assertEquals(20, cw.getLong("total"));
            assertEquals("python3", ownerOf(inode, a).getString("comm"));
            assertNull(ownerOf(inode, a).getValue("holders"), "one holder: no holders list");

            JsonObject owner = listener(inode, 8701).getJsonObject("owner");
            assertEquals(parent, owner.getLong("pid"), "the listen() caller: " + owner.encode());
            assertEquals(Set.of(parent, a, b), listenerHolders(inode, 8701));
            for (Object o : owner.getJsonArray("holders")) {
                JsonObject h = (JsonObject) o;
                assertEquals(h.getLong("pid") == parent, h.getBoolean("creator"), h.encode());
            }
            assertSameAsSs(ns, inode);
            JsonObject holders = api("/api/v1/health").getJsonObject("holders");
            assertEquals(expectedSource, holders.getString("source"), holders.encode());
            assertTrue(holders.getLong("walks") >= 1 && holders.getLong("micros") > 0, holders.encode());
        }
    }

    @Test
    void handedOverSocketsAreTheReceiversNotTheSenders() throws Exception {
        try (Netns ns = Netns.create()) {
            Map<String, Long> pids = shape(ns, "scm_rights", 8702, 10);
            long sender = pids.get("sender"), receiver = pids.get("receiver");
            long inode = ns.inode();
            await(Duration.ofSeconds(45), () -> {
                JsonObject o = ownerOf(inode, receiver);
                return o != null && o.getLong("count") == 10;
            }, () -> "closewait " + api("/api/v1/closewait?netns=" + inode).encode() + "\nss " + ssp(ns));
            assertNull(ownerOf(inode, sender), "the sender holds nothing: " + api("/api/v1/closewait?netns=" + inode).encode());
            assertEquals(10, api("/api/v1/closewait?netns=" + inode).getLong("total"));
            assertSameAsSs(ns, inode);
        }
    }

    @Test
    void socketInheritedAcrossForkListsBothHolders() throws Exception {
        try (Netns ns = Netns.create()) {
            Map<String, Long> pids = shape(ns, "inherited", 8703, 3);
            long parent = pids.get("parent"), child = pids.get("child");
            long inode = ns.inode();
            await(Duration.ofSeconds(45), () -> {
                JsonObject o = ownerOf(inode, parent);
                return o != null && o.getLong("count") == 3 && o.getJsonArray("holders") != null;
            }, () -> "closewait " + api("/api/v1/closewait?netns=" + inode).encode() + "\nss " + ssp(ns));
            JsonArray holders = ownerOf(inode, parent).getJsonArray("holders");
            Map<Long, Boolean> creators = new HashMap<>();
            for (Object o : holders) creators.put(((JsonObject) o).getLong("pid"), ((JsonObject) o).getBoolean("creator"));
            assertEquals(Map.of(parent, true, child, false), creators, holders.encode());
            assertSameAsSs(ns, inode);
        }
    }

    // ---- ground truth ----

    private static final Pattern USER_PID = Pattern.compile("pid=(\\d+)");

    /** ss -tanp in the namespace: per state, the holder pid sets of its sockets and their counts. */
    static Map<String, Map<Set<Long>, Long>> ssHolders(Netns ns, String state) {
        Map<String, Map<Set<Long>, Long>> out = new TreeMap<>();
        for (String line : ssp(ns).split("\n")) {
            if (!line.startsWith(state)) continue;
            Set<Long> pids = new TreeSet<>();
            Matcher m = USER_PID.matcher(line);
            while (m.find()) pids.add(Long.parseLong(m.group(1)));
            String local = line.trim().split("\\s+")[3];
            out.computeIfAbsent(state.equals("LISTEN") ? local : state, k -> new TreeMap<>(HoldersKernelTest::compare))
                    .merge(pids, 1L, Long::sum);
        }
        return out;
    }

    private static int compare(Set<Long> x, Set<Long> y) {
        return x.toString().compareTo(y.toString());
    }

    /**
     * Every CLOSE_WAIT owner and every listener's holders the agent reports, against ss -tanp;
     * holders are walked again every 10 s (at most 30 s where walks are slow) while nothing new
     * asks, so they may lag that long.
     */
    static void assertSameAsSs(Netns ns, long inode) throws InterruptedException {
        AssertionError[] last = new AssertionError[1];
        await(Duration.ofSeconds(45), () -> {
            try {
                compareWithSs(ns, inode);
                return true;
            } catch (AssertionError e) {
                last[0] = e;
                return false;
            }
        }, () -> String.valueOf(last[0]));
    }

    static void compareWithSs(Netns ns, long inode) {
        Map<Set<Long>, Long> agentCw = new TreeMap<>(HoldersKernelTest::compare);
        for (Object o : api("/api/v1/closewait?netns=" + inode).getJsonArray("byOwner")) {
            agentCw.merge(pidsOf((JsonObject) o), ((JsonObject) o).getLong("count"), Long::sum);
        }
        assertEquals(ssHolders(ns, "CLOSE-WAIT").getOrDefault("CLOSE-WAIT", Map.of()), agentCw, "CLOSE_WAIT owners vs ss -tanp");
        Map<String, Map<Set<Long>, Long>> agentL = new TreeMap<>();
        for (Object o : api("/api/v1/listeners?netns=" + inode).getJsonArray("listeners")) {
            JsonObject l = (JsonObject) o;
            agentL.computeIfAbsent(l.getString("addr") + ":" + l.getInteger("port"), k -> new TreeMap<>(HoldersKernelTest::compare))
                    .merge(pidsOf(l.getJsonObject("owner")), 1L, Long::sum);
        }
        assertEquals(ssHolders(ns, "LISTEN"), agentL, "listener holders vs ss -tanp");
    }

    /** The pids an owner names: its holders when listed, else its pid ({} when none holds it). */
    static Set<Long> pidsOf(JsonObject owner) {
        Set<Long> pids = new TreeSet<>();
        JsonArray hs = owner.getJsonArray("holders");
        if (hs != null) {
            for (Object h : hs) pids.add(((JsonObject) h).getLong("pid"));
        } else if (owner.getValue("pid") != null) {
            pids.add(owner.getLong("pid"));
        }
        return pids;
    }

    static String ssp(Netns ns) {
        try {
            return ns.exec("ss", "-tanpH");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    // ---- helpers ----

    /** Runs shapes.py SHAPE in the namespace; its "key=pid" lines until "ready". */
    static Map<String, Long> shape(Netns ns, String shape, int port, int n) throws IOException {
        Path script = Path.of("src/test/resources/holders/shapes.py").toAbsolutePath();
        Process p = ns.spawn("python3", script.toString(), shape, Integer.toString(port), Integer.toString(n));
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        Map<String, Long> out = new HashMap<>();
        StringBuilder seen = new StringBuilder();
        for (String line; (line = r.readLine()) != null; ) {
            seen.append(line).append('\n');
            if (line.equals("ready")) return out;
            int eq = line.indexOf('=');
            if (eq > 0) out.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
        }
        throw new IOException(shape + " did not start: " + seen);
    }

    static JsonObject api(String path) {
        try {
            return getJson(agent.port(), path);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** The CLOSE_WAIT report's entry for pid, or null. */
    static JsonObject ownerOf(long inode, long pid) {
        for (Object o : api("/api/v1/closewait?netns=" + inode).getJsonArray("byOwner")) {
            JsonObject j = (JsonObject) o;
            if (j.getValue("pid") != null && j.getLong("pid") == pid) return j;
        }
        return null;
    }

    static JsonObject listener(long inode, int port) {
        for (Object o : api("/api/v1/listeners?netns=" + inode).getJsonArray("listeners")) {
            JsonObject l = (JsonObject) o;
            if (l.getInteger("port") == port) return l;
        }
        return null;
    }

    static Set<Long> listenerHolders(long inode, int port) {
        JsonObject l = listener(inode, port);
        return l == null ? Set.of() : pidsOf(l.getJsonObject("owner"));
    }
}
