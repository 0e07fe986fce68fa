package io.tcpulse.agent.http;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.tcpulse.agent.http.TestSnapshots.NS_A;
import static io.tcpulse.agent.http.TestSnapshots.NS_B;
import static org.junit.jupiter.api.Assertions.*;

/** A real Vert.x HTTP server on an ephemeral port, fed a hand-built snapshot. */
class ApiServerTest {
    private static final long STATES_INTERVAL_MS = 300;
    private static final int EVENTS_PER_SECOND = 10; // 3 per states interval

    private static Vertx vertx;
    private static TestSnapshots.FakeSource source;
    private static String base;
    private static final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @BeforeAll
    static void start() throws Exception {
        vertx = Vertx.vertx();
        source = new TestSnapshots.FakeSource(TestSnapshots.sample());
        ApiServer server = new ApiServer(source, "127.0.0.1", 0, STATES_INTERVAL_MS, EVENTS_PER_SECOND);
        vertx.deployVerticle(server).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        base = "http://127.0.0.1:" + server.actualPort();
    }

    @AfterAll
    static void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void health() throws Exception {
        JsonObject h = getJson("/api/v1/health", 200);
        assertEquals("ok", h.getString("status"));
        assertEquals(new JsonObject().put("available", true).putNull("cause").put("mode", "bpf").put("rememberedSockets", 17)
                        .put("features", new JsonArray()
                                .add(new JsonObject().put("name", "stateChanges").put("on", true)
                                        .put("what", "every TCP state change").putNull("reason"))
                                .add(new JsonObject().put("name", "resetsSent").put("on", false).put("what", "RSTs sent")
                                        .put("reason", "the kernel refused on_send_reset: no RSTs sent per port")))
                        .put("errors", new JsonArray().add(new JsonObject().put("step", "walk").put("errno", "EMFILE")
                                .put("count", 4).put("lastMillis", TestSnapshots.WALL - 30_000)
                                .put("message", "/proc: Too many open files").put("failing", false)))
                        .putNull("outage").put("runStats", "off").put("programs", new JsonArray()),
                h.getJsonObject("probe"));
        JsonObject http = h.getJsonObject("http");
        assertTrue(http.getInteger("connections") >= 1, http.encode());
        assertTrue(http.getInteger("maxConnections") >= 16, http.encode());
        assertEquals(0, http.getLong("refused"));
        assertEquals(64, http.getInteger("fdReserve"));
        JsonObject events = h.getJsonObject("events");
        assertEquals(1000, events.getLong("seen"));
        assertEquals(3, events.getLong("lost"));
        assertEquals(7, events.getLong("sampledOut"));
        assertEquals(1, events.getInteger("samplingRatio"));
        assertEquals(0, events.getLong("stateChangesLost"));
        JsonObject self = h.getJsonObject("agent");
        assertTrue(self.getDouble("cpuSeconds") > 0 && self.getLong("heapUsedBytes") > 0, self.encode());
        assertEquals(42, h.getJsonObject("walk").getLong("sockets"));
        assertEquals(TestSnapshots.WALL - 60_000, h.getLong("startedMillis"));
    }

    @Test
    void statesSumOverNamespacesUnlessOneIsAsked() throws Exception {
        JsonObject all = getJson("/api/v1/states", 200);
        JsonObject states = all.getJsonObject("states");
        assertEquals(TcpState.COUNTED.length, states.size());
        assertEquals(4, states.getLong("ESTABLISHED"));
        assertEquals(4, states.getLong("CLOSE_WAIT"));
        assertEquals(0, states.getLong("NEW_SYN_RECV"));
        assertEquals(new JsonArray().add(NS_A).add(NS_B), all.getJsonArray("netns"));

        JsonObject b = getJson("/api/v1/states?netns=" + NS_B, 200).getJsonObject("states");
        assertEquals(1, b.getLong("ESTABLISHED"));
        assertEquals(0, b.getLong("TIME_WAIT"));
    }

    @Test
    void transitionsMergeNamespacesLargestFirst() throws Exception {
        JsonArray t = getJson("/api/v1/transitions", 200).getJsonArray("transitions");
        assertEquals(4, t.size());
        assertEquals(new JsonObject().put("from", "ESTABLISHED").put("to", "CLOSE_WAIT").put("count", 9).put("derived", false),
                t.getJsonObject(0));
        assertEquals(new JsonObject().put("from", "SYN_SENT").put("to", "ESTABLISHED").put("count", 7).put("derived", false),
                t.getJsonObject(1));
        assertEquals(new JsonObject().put("from", "FIN_WAIT2").put("to", "TIME_WAIT").put("count", 4).put("derived", true),
                t.getJsonObject(2));

        JsonArray b = getJson("/api/v1/transitions?netns=" + NS_B, 200).getJsonArray("transitions");
        assertEquals(1, b.size());
        assertEquals(2, b.getJsonObject(0).getLong("count"));
    }

    @Test
    void eventsNewestFirstWithEveryField() throws Exception {
        JsonArray events = getJson("/api/v1/events", 200).getJsonArray("events");
        assertEquals(4, events.size());
        assertEquals(3_000_000L, events.getJsonObject(0).getLong("tsNs"));

        JsonObject e = events.getJsonObject(1);
        assertEquals("2023-11-14T22:13:20.002Z", e.getString("time"));
        assertEquals("STATE", e.getString("kind"));
        assertEquals(NS_A, e.getLong("netns"));
        assertEquals(6, e.getInteger("family"));
        assertEquals("::1", e.getString("local"));
        assertEquals(8080, e.getInteger("localPort"));
        assertEquals("2001:db8::1:0:0:1", e.getString("remote"));
        assertEquals("ESTABLISHED", e.getString("from"));
        assertEquals("CLOSE_WAIT", e.getString("to"));
        assertEquals(0.004321, e.getDouble("prevStateMs"), 1e-12);
        assertEquals(1500.0, e.getDouble("ageMs"), 1e-9);
        assertTrue(e.containsKey("pid") && e.getValue("pid") == null, "pid 0 is null");
        assertEquals(102, e.getLong("sockId"));
        assertEquals(7, e.getLong("cgroupId"));
        assertEquals(1, e.getInteger("sampleRatio"));

        JsonObject unknown = events.getJsonObject(2);
        assertEquals("UNKNOWN(99)", unknown.getString("from"));
        assertEquals("UNKNOWN(98)", unknown.getString("to"));
        assertNull(unknown.getValue("prevStateMs"));

        JsonObject oldest = events.getJsonObject(3);
        assertEquals(4242, oldest.getInteger("pid"));
        assertEquals("curl", oldest.getString("comm"));
        assertEquals("127.0.0.1", oldest.getString("remote"));
    }

    @Test
    void eventFilters() throws Exception {
        assertEquals(List.of(2L, 0L), tsMillis("/api/v1/events?port=8080"));
        assertEquals(List.of(3L, 2L), tsMillis("/api/v1/events?state=close-wait"));
        assertEquals(List.of(0L), tsMillis("/api/v1/events?state=Syn_Sent"));
        assertEquals(List.of(2L), tsMillis("/api/v1/events?peer=2001:DB8::1:0:0:1"));
        assertEquals(List.of(2L), tsMillis("/api/v1/events?peer=%5B2001:db8::1:0:0:1%5D"));
        assertEquals(List.of(3L), tsMillis("/api/v1/events?netns=" + NS_B));
        assertEquals(List.of(3L, 2L), tsMillis("/api/v1/events?limit=2"));
        assertEquals(List.of(2L, 1L, 0L), tsMillis("/api/v1/events?netns=" + NS_A + "&limit=10000"));
    }

    @Test
    void eventsArePagedWithTheirTotal() throws Exception {
        assertEquals(List.of(2L, 1L), tsMillis("/api/v1/events?offset=1&limit=2"));
        assertEquals(new JsonObject().put("offset", 1).put("limit", 2).put("total", 4).put("returned", 2),
                getJson("/api/v1/events?offset=1&limit=2", 200).getJsonObject("page"));
        assertEquals(new JsonObject().put("offset", 9).put("limit", 100).put("total", 3).put("returned", 0),
                getJson("/api/v1/events?offset=9&netns=" + NS_A, 200).getJsonObject("page"));
    }

    @Test
    void listenersArePagedWithTheirTotal() throws Exception {
        var before = source.snapshot;
        source.snapshot = PrometheusBoundTest.many(); // 20,003 listeners
        try {
            JsonObject all = getJson("/api/v1/listeners", 200);
            assertEquals(500, all.getJsonArray("listeners").size());
            assertEquals(new JsonObject().put("offset", 0).put("limit", 500).put("total", 20_003).put("returned", 500),
                    all.getJsonObject("page"));
            JsonObject top = getJson("/api/v1/listeners?limit=2&order=activity", 200);
            assertEquals(81, top.getJsonArray("listeners").getJsonObject(0).getInteger("port"), "full queue first");
            assertEquals(80, top.getJsonArray("listeners").getJsonObject(1).getInteger("port"), "then the busiest");
            JsonObject last = getJson("/api/v1/listeners?offset=20000&limit=10", 200);
            assertEquals(3, last.getJsonArray("listeners").size());
            assertEquals(1, getJson("/api/v1/listeners?netns=" + NS_B, 200).getJsonObject("page").getInteger("total"));
            getJson("/api/v1/listeners?order=port", 400);
            getJson("/api/v1/listeners?offset=-1", 400);
            getJson("/api/v1/listeners?limit=100001", 400);
        } finally {
            source.snapshot = before;
        }
    }

    @Test
    void closeWaitOwnersArePaged() throws Exception {
        var before = source.snapshot;
        source.snapshot = PrometheusPromtoolTest.awkward(); // 61 owners, 2,026 sockets
        try {
            JsonObject all = getJson("/api/v1/closewait", 200);
            assertEquals(61, all.getJsonArray("byOwner").size());
            assertEquals(new JsonObject().put("offset", 0).put("limit", 500).put("total", 61).put("returned", 61),
                    all.getJsonObject("page"));
            JsonObject rest = getJson("/api/v1/closewait?offset=60&limit=5", 200);
            assertEquals(1, rest.getJsonArray("byOwner").size());
            assertEquals(new JsonObject().put("offset", 60).put("limit", 5).put("total", 61).put("returned", 1),
                    rest.getJsonObject("page"));
            assertEquals(all.getLong("total"), rest.getLong("total"), "total stays the socket count");
        } finally {
            source.snapshot = before;
        }
    }

    @Test
    void latencyInSecondsWithNullForEmpty() throws Exception {
        JsonObject l = getJson("/api/v1/latency?netns=" + NS_A, 200);
        JsonObject client = l.getJsonObject("handshakeClient");
        assertEquals(2, client.getLong("count"));
        double p50 = client.getDouble("p50");
        assertTrue(p50 > 0.131 && p50 <= 0.262144 + 1e-9, "p50 " + p50);
        assertEquals(0.524288, client.getDouble("max"), 1e-9);
        JsonArray buckets = client.getJsonArray("buckets");
        assertEquals(37, buckets.size());
        assertEquals(1, buckets.getJsonObject(18).getLong("count"));
        assertEquals(0.262144, buckets.getJsonObject(18).getDouble("le"), 1e-12);
        assertNull(buckets.getJsonObject(36).getValue("le"));

        JsonObject server = l.getJsonObject("handshakeServer");
        assertEquals(0, server.getLong("count"));
        assertTrue(server.containsKey("p99") && server.getValue("p99") == null);
        assertEquals(1, getJson("/api/v1/latency", 200).getJsonObject("lifetime").getLong("count"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "/api/v1/states?netns=abc", "/api/v1/states?netns=-4", "/api/v1/transitions?netns=1.5",
        "/api/v1/latency?netns=99999999999999999999", "/api/v1/events?limit=-1", "/api/v1/events?limit=0",
        "/api/v1/events?limit=10001", "/api/v1/events?limit=ten", "/api/v1/events?state=bogus",
        "/api/v1/events?port=70000", "/api/v1/stream?netns=abc"})
    void badParametersAreJson400(String path) throws Exception {
        JsonObject body = getJson(path, 400);
        assertEquals("bad request", body.getString("error"));
        assertFalse(body.getString("detail").isBlank());
    }

    @Test
    void badRequestDetailNamesTheRuleAndTheValue() throws Exception {
        assertEquals("limit must be an integer in 1..10000, got '-1'",
                getJson("/api/v1/events?limit=-1", 400).getString("detail"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"/nope", "/api/v1/nope", "/api/v2/states", "/dashboard/missing.js"})
    void unknownPathsAreJson404(String path) throws Exception {
        JsonObject body = getJson(path, 404);
        assertEquals("not found", body.getString("error"));
    }

    @Test
    void wrongMethodIsJson405() throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/health"))
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, r.statusCode());
        assertEquals("method not allowed", new JsonObject(r.body()).getString("error"));
    }

    @Test
    void securityHeadersOnEveryResponse() throws Exception {
        for (String path : List.of("/api/v1/health", "/nope", "/api/v1/events?limit=-1", "/", "/metrics")) {
            HttpResponse<String> r = get(path);
            assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse(null), path);
            assertEquals(ApiServer.CSP, r.headers().firstValue("Content-Security-Policy").orElse(null), path);
            assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), path);
        }
    }

    @Test
    void dashboardIsServedFromTheClasspath() throws Exception {
        HttpResponse<String> index = get("/");
        assertEquals(200, index.statusCode());
        assertTrue(index.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
        assertTrue(index.body().contains("id=\"events\""));
        HttpResponse<String> app = get("/app.js");
        assertEquals(200, app.statusCode());
        assertTrue(app.headers().firstValue("Content-Type").orElse("").contains("javascript"));
    }

    @Test
    void metricsInPrometheusTextFormat() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode());
        assertEquals(PrometheusWriter.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElse(null));
        assertTrue(r.body().contains("tcpulse_sockets{netns=\"" + NS_A + "\",state=\"time_wait\"} 2\n"));
    }

    @Test
    void streamSendsStatesThenRateLimitedEventsAndUnsubscribesOnDisconnect() throws Exception {
        HttpResponse<Stream<String>> r = client.send(
                HttpRequest.newBuilder(URI.create(base + "/api/v1/stream")).build(),
                HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        try (Stream<String> lines = r.body()) {
            Iterator<String> it = lines.iterator();
            assertEquals("retry: 2000", it.next());
            JsonObject states = nextMessage(it, "states");
            assertEquals(4, states.getJsonObject("states").getLong("ESTABLISHED"));
            assertEquals("ok", states.getString("status"));
            assertEquals(2, states.getJsonArray("netns").size());
            assertEquals(0, states.getLong("dropped"));
            waitFor(() -> source.listeners.size() == 1, "the stream subscribes");

            // 10 events in one batch: 3 fit the budget of one 300 ms window, 7 are dropped
            List<Event> batch = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                batch.add(TestSnapshots.event(0, NS_A, "10.0.0.1", 1000 + i, "10.0.0.2", 80,
                        TcpState.SYN_SENT, TcpState.ESTABLISHED, 1, 1));
            }
            source.publish(batch);
            List<Integer> delivered = new ArrayList<>();
            long dropped = -1;
            while (dropped < 0) { // a states message sent before the batch arrived reports 0: skip it
                String type = nextEventType(it);
                JsonObject data = new JsonObject(it.next().substring("data: ".length()));
                if (type.equals("event")) delivered.add(data.getInteger("localPort"));
                else if (type.equals("states") && !delivered.isEmpty()) dropped = data.getLong("dropped");
            }
            assertEquals(List.of(1000, 1001, 1002), delivered);
            assertEquals(7, dropped);
        }
        waitFor(() -> source.listeners.isEmpty(), "the stream unsubscribes when the client leaves");
    }

    @Test
    void streamFiltersEventsLikeTheEventsEndpoint() throws Exception {
        HttpResponse<Stream<String>> r = client.send(
                HttpRequest.newBuilder(URI.create(base + "/api/v1/stream?netns=" + NS_B)).build(),
                HttpResponse.BodyHandlers.ofLines());
        try (Stream<String> lines = r.body()) {
            Iterator<String> it = lines.iterator();
            JsonObject states = nextMessage(it, "states");
            assertEquals(1, states.getJsonObject("states").getLong("ESTABLISHED"), "states of NS_B only");
            waitFor(() -> !source.listeners.isEmpty(), "the stream subscribes");
            source.publish(List.of(
                    TestSnapshots.event(1, NS_A, "10.0.0.1", 1, "10.0.0.2", 80, TcpState.SYN_SENT, TcpState.ESTABLISHED, 1, 1),
                    TestSnapshots.event(2, NS_B, "10.0.0.1", 2, "10.0.0.2", 80, TcpState.SYN_SENT, TcpState.ESTABLISHED, 1, 1)));
            assertEquals(2, nextMessage(it, "event").getInteger("localPort"));
        }
        waitFor(() -> source.listeners.isEmpty(), "unsubscribed");
    }

    // ---- helpers ----

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject getJson(String path, int status) throws IOException, InterruptedException {
        HttpResponse<String> r = get(path);
        assertEquals(status, r.statusCode(), path + " -> " + r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), path);
        return new JsonObject(r.body());
    }

    private static List<Long> tsMillis(String path) throws IOException, InterruptedException {
        List<Long> out = new ArrayList<>();
        for (Object o : getJson(path, 200).getJsonArray("events")) out.add(((JsonObject) o).getLong("tsNs") / 1_000_000L);
        return out;
    }

    /** Skips to the next "event: TYPE" line and returns its type. */
    private static String nextEventType(Iterator<String> it) {
        while (it.hasNext()) {
            String line = it.next();
            if (line.startsWith("event: ")) return line.substring("event: ".length());
        }
        throw new AssertionError("stream ended");
    }

    /** The data of the next message of that type, skipping others. */
    private static JsonObject nextMessage(Iterator<String> it, String type) {
        while (true) {
            String t = nextEventType(it);
            String data = it.next();
            assertTrue(data.startsWith("data: "), data);
            if (t.equals(type)) return new JsonObject(data.substring("data: ".length()));
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        Wait.until(java.time.Duration.ofSeconds(5), java.time.Duration.ofMillis(20), condition, () -> "timed out waiting until " + what);
    }
}
