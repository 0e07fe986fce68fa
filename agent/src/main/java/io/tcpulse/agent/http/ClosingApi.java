package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.aggregate.TimeWaitReport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The closing side: GET /api/v1/timewait, /api/v1/closewait, /api/v1/resets.
 * Without netns, namespaces are merged (sums; lists merged and re-ranked).
 */
final class ClosingApi {
    private ClosingApi() {}

    static final int DEFAULT_LIMIT = 20, MAX_LIMIT = 100;
    /** Sockets listed per owner with ?sockets=true (?socketsLimit=N); the owner's count is the whole figure. */
    static final int DEFAULT_SOCKETS_LIMIT = 100, MAX_SOCKETS_LIMIT = 10_000;

    static void mount(Router router, SnapshotSource source, java.util.function.IntSupplier defaultLimit) {
        router.get("/api/v1/timewait").handler(ctx -> timewait(ctx, source));
        router.get("/api/v1/closewait").handler(ctx -> closewait(ctx, source, defaultLimit.getAsInt()));
        router.get("/api/v1/resets").handler(ctx -> resets(ctx, source));
    }

    private static void timewait(RoutingContext ctx, SnapshotSource source) {
        Long netns = ApiServer.netnsParam(ctx);
        ApiServer.Page page = ApiServer.Page.of(ctx, DEFAULT_LIMIT, MAX_LIMIT);
        int limit = page.limit();
        long total = 0, maxBuckets = 0, overflows = 0;
        double rate = 0;
        List<TimeWaitReport.Remote> remotes = new ArrayList<>();
        Map<Integer, Long> ports = new HashMap<>();
        for (var e : source.current().timewait().entrySet()) {
            if (!ApiJson.sameNetns(netns, e.getKey())) continue;
            TimeWaitReport r = e.getValue();
            total += r.total();
            rate += r.entriesPerSecond();
            maxBuckets = Math.max(maxBuckets, r.maxBuckets());
            overflows += r.overflows();
            remotes.addAll(r.byRemote());
            r.byLocalPort().forEach(p -> ports.merge(p.port(), p.count(), Long::sum));
        }
        remotes.sort(Comparator.comparingLong(TimeWaitReport.Remote::count).reversed());
        JsonArray byRemote = new JsonArray();
        page.apply(remotes).forEach(r -> byRemote.add(new JsonObject()
                .put("remote", r.remote()).put("local", r.local()).put("count", r.count())
                .put("portsInUse", r.portsInUse()).put("portRange", r.portRange())
                .put("exhaustion", r.exhaustion()).put("secondsToExhaustion", r.secondsToExhaustion())));
        JsonArray byPort = new JsonArray();
        ports.entrySet().stream().sorted(Map.Entry.<Integer, Long>comparingByValue().reversed()).limit(limit)
                .forEach(p -> byPort.add(new JsonObject().put("port", p.getKey()).put("count", p.getValue())));
        ctx.json(new JsonObject().put("total", total).put("entriesPerSecond", rate)
                .put("byRemote", byRemote).put("byLocalPort", byPort)
                .put("maxBuckets", maxBuckets).put("bucketOverflows", overflows)
                .put("page", page.json(remotes.size(), byRemote.size())));
    }

    private static void closewait(RoutingContext ctx, SnapshotSource source, int defaultLimit) {
        Long netns = ApiServer.netnsParam(ctx);
        boolean sockets = "true".equals(ctx.queryParams().get("sockets"));
        ApiServer.Page page = ApiServer.Page.of(ctx, defaultLimit, io.tcpulse.agent.config.Limits.MAX_API_LIST_LIMIT);
        int socketsLimit = ApiServer.intParam(ctx, "socketsLimit", 1, MAX_SOCKETS_LIMIT, DEFAULT_SOCKETS_LIMIT);
        long total = 0;
        JsonArray owners = new JsonArray();
        List<Map.Entry<Long, CloseWaitReport.ByOwner>> all = new ArrayList<>();
        for (var e : source.current().closewait().entrySet()) {
            if (!ApiJson.sameNetns(netns, e.getKey())) continue;
            total += e.getValue().total();
            e.getValue().byOwner().forEach(o -> all.add(Map.entry(e.getKey(), o)));
        }
        all.sort(Comparator.comparingLong((Map.Entry<Long, CloseWaitReport.ByOwner> e) -> e.getValue().count()).reversed());
        for (var e : page.apply(all)) {
            CloseWaitReport.ByOwner o = e.getValue();
            JsonObject j = new JsonObject().put("netns", e.getKey())
                    .put("pid", o.pid() == 0 ? null : o.pid()).put("comm", o.comm()).put("unit", o.unit())
                    .put("count", o.count()).put("oldestAgeSeconds", o.oldestAgeSeconds())
                    .put("growthPerMinute", o.growthPerMinute()).put("leaking", o.leaking());
            if (o.holders() != null) j.put("holders", ListenersApi.holders(o.holders()));
            if (sockets) {
                JsonArray list = new JsonArray();
                o.sockets().stream().limit(socketsLimit).forEach(s -> list.add(new JsonObject().put("peer", s.peer())
                        .put("localPort", s.localPort()).put("ageSeconds", s.ageSeconds())));
                j.put("sockets", list);
            }
            owners.add(j);
        }
        JsonArray lingering = new JsonArray();
        long orphans = 0;
        for (var e : source.current().closewait().entrySet()) {
            if (!ApiJson.sameNetns(netns, e.getKey())) continue;
            orphans += e.getValue().orphans();
            e.getValue().lingering().forEach(l -> lingering.add(new JsonObject().put("netns", e.getKey())
                    .put("peer", l.peer()).put("state", l.state()).put("count", l.count())
                    .put("oldestAgeSeconds", l.oldestAgeSeconds())));
        }
        ctx.json(new JsonObject().put("total", total).put("byOwner", owners)
                .put("lingering", lingering).put("orphans", orphans).put("page", page.json(all.size(), owners.size())));
    }

    private static void resets(RoutingContext ctx, SnapshotSource source) {
        Long netns = ApiServer.netnsParam(ctx);
        long sent = 0, received = 0;
        JsonArray peers = new JsonArray();
        for (Map.Entry<Long, Snapshot.Resets> e : source.current().resets().entrySet()) {
            if (!ApiJson.sameNetns(netns, e.getKey())) continue;
            sent += e.getValue().sent();
            received += e.getValue().received();
            e.getValue().byPeer().forEach(p -> peers.add(new JsonObject().put("netns", e.getKey())
                    .put("peer", p.peer()).put("localPort", p.localPort()).put("state", p.state())
                    .put("direction", p.direction()).put("count", p.count())));
        }
        ctx.json(new JsonObject().put("sent", sent).put("received", received).put("byPeer", peers));
    }
}
