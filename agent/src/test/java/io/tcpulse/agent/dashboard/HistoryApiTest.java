package io.tcpulse.agent.dashboard;

import io.tcpulse.agent.aggregate.History;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.http.ApiServer;
import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TransitionCount;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static io.tcpulse.agent.dashboard.HistoryTest.*;
import static io.tcpulse.agent.model.TcpState.*;
import static org.junit.jupiter.api.Assertions.*;

/** GET /api/v1/history and /api/v1/history/listener on a real Vert.x server, fed a hand-made history. */
class HistoryApiTest {
    private static Vertx vertx;
    private static String base;
    private static final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        History history = new History();
        List<ListenerStatus> l0 = List.of(new ListenerStatus(NS_A, "0.0.0.0", 8080, 0, 4, 0, 128, 0, 0, 0, 0, 0,
                OwnerInfo.UNKNOWN, false, ListenerStatus.VERDICT_OK));
        List<ListenerStatus> l1 = List.of(new ListenerStatus(NS_A, "0.0.0.0", 8080, 5, 4, 2, 128, 20, 20, 1, 0, 0,
                OwnerInfo.UNKNOWN, false, ListenerStatus.VERDICT_ACCEPT_QUEUE_FULL));
        Snapshot last = null;
        for (int i = 0; i < 5; i++) {
            last = snap(T0 + i * 1000L, Map.of(NS_A, counts(ESTABLISHED, i, TIME_WAIT, 2 * i), NS_B, counts(LISTEN, 1)),
                    List.of(new TransitionCount(NS_A, SYN_SENT, ESTABLISHED, false, 10L * i),
                            new TransitionCount(NS_A, FIN_WAIT2, TIME_WAIT, true, 3L * i)),
                    i < 2 ? l0 : l1);
            history.maybeRecord(last);
        }
        Snapshot current = last;
        SnapshotSource source = new SnapshotSource() {
            @Override
            public Snapshot current() { return current; }

            @Override
            public AutoCloseable subscribe(Consumer<List<Event>> listener) { return () -> { }; }

            @Override
            public History history() { return history; }
        };
        vertx = Vertx.vertx();
        ApiServer server = new ApiServer(source, "127.0.0.1", 0);
        vertx.deployVerticle(server).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        base = "http://127.0.0.1:" + server.actualPort();
    }

    @AfterAll
    static void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonObject json(String path, int status) throws Exception {
        HttpResponse<String> r = get(path);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        return new JsonObject(r.body());
    }

    @Test
    void seriesOfOneNamespace() throws Exception {
        JsonObject h = json("/api/v1/history?netns=" + NS_A + "&seconds=3", 200);
        long s0 = T0 / 1000;
        assertEquals(new JsonArray().add(s0 + 2).add(s0 + 3).add(s0 + 4), h.getJsonArray("time"));
        assertEquals(s0 + 2, h.getLong("from"));
        assertEquals(s0 + 4, h.getLong("to"));
        assertEquals(NS_A, h.getLong("netns"));
        assertEquals(1, h.getInteger("intervalSeconds"));
        JsonObject states = h.getJsonObject("states");
        assertEquals(11, states.size());
        assertEquals(new JsonArray().add(2).add(3).add(4), states.getJsonArray("ESTABLISHED"));
        assertEquals(new JsonArray().add(4).add(6).add(8), states.getJsonArray("TIME_WAIT"));
        assertEquals(new JsonArray().add(0).add(0).add(0), states.getJsonArray("LISTEN"));
        JsonArray transitions = h.getJsonArray("transitions");
        assertEquals(2, transitions.size());
        assertEquals(new JsonObject().put("from", "SYN_SENT").put("to", "ESTABLISHED").put("derived", false)
                .put("rate", new JsonArray().add(10).add(10).add(10)), transitions.getJsonObject(0));
        assertEquals(new JsonObject().put("from", "FIN_WAIT2").put("to", "TIME_WAIT").put("derived", true)
                .put("rate", new JsonArray().add(3).add(3).add(3)), transitions.getJsonObject(1));
        assertEquals(0, h.getLong("seriesDropped"));
    }

    @Test
    void allNamespacesByDefault() throws Exception {
        JsonObject h = json("/api/v1/history", 200);
        assertNull(h.getValue("netns"));
        assertEquals(5, h.getJsonArray("time").size());
        assertEquals(new JsonArray().add(1).add(1).add(1).add(1).add(1), h.getJsonObject("states").getJsonArray("LISTEN"));
    }

    @Test
    void aListenersHistory() throws Exception {
        JsonObject h = json("/api/v1/history/listener?netns=" + NS_A + "&port=8080&seconds=4", 200);
        assertEquals(8080, h.getInteger("port"));
        assertEquals(4, h.getInteger("acceptQueueMax"));
        assertEquals(128, h.getInteger("synQueueMax"));
        assertEquals(new JsonArray().add(0).add(5).add(5).add(5), h.getJsonArray("acceptQueue"));
        assertEquals(new JsonArray().add(0).add(20).add(0).add(0), h.getJsonArray("overflows"));
        assertEquals(4, h.getJsonArray("time").size());
        for (String f : History.LISTENER_FIELDS) assertEquals(4, h.getJsonArray(f).size(), f);
    }

    @Test
    void badParametersAre400AndUnknownListeners404() throws Exception {
        JsonObject e = json("/api/v1/history?seconds=0", 400);
        assertEquals("bad request", e.getString("error"));
        assertTrue(e.getString("detail").contains("seconds must be an integer in 1..3600, got '0'"), e.encode());
        assertTrue(json("/api/v1/history?netns=abc", 400).getString("detail").contains("netns"));
        assertTrue(json("/api/v1/history/listener?port=80", 400).getString("detail").contains("netns is required"));
        assertTrue(json("/api/v1/history/listener?netns=" + NS_A, 400).getString("detail").contains("port is required"));
        JsonObject missing = json("/api/v1/history/listener?netns=" + NS_A + "&port=9", 404);
        assertEquals("not found", missing.getString("error"));
        assertTrue(missing.getString("detail").contains("no listener on port 9"), missing.encode());
    }
}
