package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.History;
import io.tcpulse.agent.model.TcpState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * The last hour as time series, from {@link History}:
 * <ul>
 * <li>{@code GET /api/v1/history[?netns=INODE&seconds=N]} → state counts and transition
 *     rates per second, of one namespace or summed over all;</li>
 * <li>{@code GET /api/v1/history/listener?netns=INODE&port=P[&addr=A&seconds=N]} → one
 *     listener's queue lengths and the per-second rates of its counters.</li>
 * </ul>
 * Parameters are checked on the event loop (bad ones give 400 through ApiServer's error
 * helper); the JSON of up to an hour of samples is built on a worker thread.
 */
public final class HistoryApi {
    static final int DEFAULT_SECONDS = 900;

    private final History history;

    private HistoryApi(History history) {
        this.history = history;
    }

    /** Declares the routes on the router; does nothing when there is no history. */
    public static void mount(Router router, History history) {
        if (history == null) return;
        HistoryApi api = new HistoryApi(history);
        router.get("/api/v1/history").handler(api::states);
        router.get("/api/v1/history/listener").handler(api::listener);
    }

    private void states(RoutingContext ctx) {
        Long netns = ApiServer.netnsParam(ctx);
        int seconds = ApiServer.intParam(ctx, "seconds", 1, History.CAPACITY, DEFAULT_SECONDS);
        respond(ctx, () -> windowJson(netns, history.query(netns, seconds)));
    }

    private void listener(RoutingContext ctx) {
        Long netns = ApiServer.netnsParam(ctx);
        if (netns == null) throw new ApiServer.BadParam("netns is required: the listener's namespace inode");
        Integer port = ApiServer.intParam(ctx, "port", 1, 65535, null);
        if (port == null) throw new ApiServer.BadParam("port is required: the listener's port, 1..65535");
        List<String> addrs = ctx.queryParam("addr");
        String addr = addrs.isEmpty() || addrs.get(0).isBlank() ? null : addrs.get(0).strip();
        int seconds = ApiServer.intParam(ctx, "seconds", 1, History.CAPACITY, DEFAULT_SECONDS);
        respond(ctx, () -> {
            History.ListenerWindow w = history.listener(netns, addr, port, seconds);
            if (w == null) return null;
            JsonObject out = new JsonObject()
                    .put("netns", netns).put("addr", addr).put("port", port)
                    .put("intervalSeconds", 1)
                    .put("acceptQueueMax", w.acceptQueueMax())
                    .put("synQueueMax", w.synQueueMax())
                    .put("time", times(w.time()));
            for (String f : History.LISTENER_FIELDS) out.put(f, numbers(w.fields().get(f)));
            return out.encode();
        }, "no listener on port " + port + (addr == null ? "" : " address " + addr)
                + " in netns " + netns + " within the last hour");
    }

    private void respond(RoutingContext ctx, java.util.concurrent.Callable<String> body) {
        respond(ctx, body, null);
    }

    /** Builds the body on a worker thread; a null body means 404 with the given detail. */
    private void respond(RoutingContext ctx, java.util.concurrent.Callable<String> body, String notFound) {
        ctx.vertx().executeBlocking(body, false).onComplete(ar -> {
            if (ar.failed()) {
                ctx.fail(ar.cause());
            } else if (ar.result() == null) {
                ApiServer.error(ctx, 404, "not found", notFound);
            } else if (!ctx.response().ended()) {
                ctx.response().putHeader("Content-Type", "application/json").end(ar.result());
            }
        });
    }

    static String windowJson(Long netns, History.Window w) {
        JsonObject states = new JsonObject();
        for (TcpState s : TcpState.COUNTED) states.put(s.name(), numbers(w.states().get(s)));
        JsonArray transitions = new JsonArray();
        for (History.TransitionSeries t : w.transitions()) {
            transitions.add(new JsonObject()
                    .put("from", t.from().name())
                    .put("to", t.to().name())
                    .put("derived", t.derived())
                    .put("rate", numbers(t.rate())));
        }
        long[] time = w.time();
        return new JsonObject()
                .put("netns", netns)
                .put("intervalSeconds", 1)
                .put("from", time.length == 0 ? null : time[0])
                .put("to", time.length == 0 ? null : time[time.length - 1])
                .put("time", times(time))
                .put("states", states)
                .put("transitions", transitions)
                .put("seriesDropped", w.seriesDropped())
                .encode();
    }

    private static JsonArray times(long[] t) {
        JsonArray a = new JsonArray(new java.util.ArrayList<>(t.length));
        for (long v : t) a.add(v);
        return a;
    }

    /** Whole numbers stay integers in the JSON; rates keep three decimals. */
    private static JsonArray numbers(float[] values) {
        JsonArray a = new JsonArray(new java.util.ArrayList<>(values.length));
        for (float v : values) {
            long whole = (long) v;
            if (whole == v) a.add(whole);
            else a.add(Math.round(v * 1000.0) / 1000.0);
        }
        return a;
    }
}
