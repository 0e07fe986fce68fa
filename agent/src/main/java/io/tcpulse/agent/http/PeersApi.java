package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.PeerReport;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * GET /api/v1/peers[?netns=&limit=&offset=]: the destinations this host connected to, most
 * active first (sockets now, connects, failures), with sockets by state, connects, failed
 * connects by reason and the processes that connected.
 */
final class PeersApi {
    private PeersApi() {}

    static void mount(Router router, SnapshotSource source, java.util.function.IntSupplier defaultLimit) {
        router.get("/api/v1/peers").handler(ctx -> peers(ctx, source, defaultLimit.getAsInt()));
    }

    private static void peers(RoutingContext ctx, SnapshotSource source, int defaultLimit) {
        Long netns = ApiServer.netnsParam(ctx);
        ApiServer.Page page = ApiServer.Page.of(ctx, defaultLimit, io.tcpulse.agent.config.Limits.MAX_API_LIST_LIMIT);
        List<Map.Entry<Long, PeerReport>> all = new ArrayList<>();
        source.current().peers().forEach((ns, rows) -> {
            if (ApiJson.sameNetns(netns, ns)) rows.forEach(r -> all.add(Map.entry(ns, r)));
        });
        all.sort(Comparator.comparingLong((Map.Entry<Long, PeerReport> e) -> -e.getValue().activity())
                .thenComparingLong(Map.Entry::getKey).thenComparing(e -> e.getValue().remote()));
        JsonArray out = new JsonArray();
        for (Map.Entry<Long, PeerReport> e : page.apply(all)) out.add(json(e.getKey(), e.getValue()));
        ctx.json(new JsonObject().put("total", all.size()).put("peers", out).put("page", page.json(all.size(), out.size())));
    }

    static JsonObject json(long netns, PeerReport p) {
        JsonArray owners = new JsonArray();
        p.owners().forEach(o -> owners.add(new JsonObject().put("pid", o.pid()).put("comm", o.comm()).put("unit", o.unit())));
        JsonObject j = new JsonObject().put("netns", netns).put("remote", p.remote()).put("states", ApiJson.states(p.states()))
                .put("connects", p.connects()).put("established", p.established())
                .put("failed", new JsonObject(new java.util.LinkedHashMap<String, Object>(p.failed())));
        return ApiJson.carried(j, p.carried()).put("owners", owners);
    }
}
