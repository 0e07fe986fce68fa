package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;
import java.util.TreeMap;

/** GET /api/v1/listeners[?netns=INODE]: every listening socket, its queues, drops and owner. */
final class ListenersApi {
    private ListenersApi() {}

    static void mount(Router router, SnapshotSource source, java.util.function.IntSupplier defaultLimit) {
        router.get("/api/v1/listeners").handler(ctx -> listeners(ctx, source, defaultLimit.getAsInt()));
    }

    /** ?order=activity ranks the most active first (as /metrics keeps them); otherwise the walk's order. */
    private static void listeners(RoutingContext ctx, SnapshotSource source, int defaultLimit) {
        Long netns = ApiServer.netnsParam(ctx);
        ApiServer.Page page = ApiServer.Page.of(ctx, defaultLimit, io.tcpulse.agent.config.Limits.MAX_API_LIST_LIMIT);
        String order = ctx.queryParams().get("order");
        if (order != null && !order.equals("activity")) throw new ApiServer.BadParam("order must be 'activity', got '" + order + "'");
        Snapshot s = source.current();
        java.util.List<ListenerStatus> matching = new java.util.ArrayList<>();
        for (ListenerStatus l : s.listenerStatus()) {
            if (ApiJson.sameNetns(netns, l.netns())) matching.add(l);
        }
        if (order != null) matching.sort(PrometheusWriter.MOST_ACTIVE);
        JsonArray out = new JsonArray();
        for (ListenerStatus l : page.apply(matching)) out.add(listener(l));
        // host-wide counters beside the per-listener view, per namespace
        JsonObject host = new JsonObject();
        for (var e : new TreeMap<>(s.netstat()).entrySet()) {
            if (ApiJson.sameNetns(netns, e.getKey())) host.put(Long.toString(e.getKey()), listenCounters(e.getValue()));
        }
        ctx.json(new JsonObject().put("listeners", out).put("netstat", host).put("page", page.json(matching.size(), out.size())));
    }

    static JsonObject listener(ListenerStatus l) {
        JsonObject j = new JsonObject()
                .put("netns", l.netns()).put("addr", l.addr()).put("port", l.port())
                .put("acceptQueue", l.acceptQueue()).put("acceptQueueMax", l.acceptQueueMax())
                .put("acceptQueueFill", l.acceptQueueFill())
                .put("synQueue", l.synQueue()).put("synQueueMax", l.synQueueMax())
                .put("overflows", l.overflows()).put("drops", l.drops())
                .put("synAckRetransmits", l.synAckRetransmits())
                .put("resetsSent", l.resetsSent()).put("resetsReceived", l.resetsReceived())
                .put("syncookies", l.syncookies())
                .put("owner", owner(l.owner()))
                .put("verdict", l.verdict())
                .put("states", ApiJson.states(l.children().states()))
                .put("accepted", l.children().accepted());
        return ApiJson.carried(j, l.children().carried());
    }

    static JsonObject owner(OwnerInfo o) {
        JsonObject j = new JsonObject().put("pid", o.pid() == 0 ? null : o.pid()).put("comm", o.comm())
                .put("unit", o.unit()).put("cgroup", o.cgroup());
        if (o.holders() != null) j.put("holders", holders(o.holders()));
        return j;
    }

    /** Every process holding the socket(s), as ss -p lists them; creator: it made the socket. */
    static JsonArray holders(java.util.List<OwnerInfo.HolderInfo> hs) {
        JsonArray a = new JsonArray();
        for (OwnerInfo.HolderInfo h : hs) {
            a.add(new JsonObject().put("pid", h.pid()).put("comm", h.comm()).put("unit", h.unit())
                    .put("cgroup", h.cgroup()).put("creator", h.creator()));
        }
        return a;
    }

    private static final String[] LISTEN_COUNTERS = {
        "ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
        "SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "TCPTimeWaitOverflow"};

    private static JsonObject listenCounters(Map<String, Long> tcpExt) {
        JsonObject o = new JsonObject();
        for (String k : LISTEN_COUNTERS) o.put(k, tcpExt.getOrDefault(k, 0L));
        return o;
    }
}
