package io.tcpulse.agent.dashboard;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * The dashboard's files from the classpath (as the agent serves them, same CSP) and an
 * API that answers with the documented JSON shapes, filled with hostile process names:
 * the views are tested against the contracts without a kernel.
 */
final class FakeAgent implements AutoCloseable {
    static final String HOSTILE = "<img src=x onerror=window.__xss=1>";
    static final String CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            + "script-src 'self'; connect-src 'self'";
    static final long NS = 4026532100L;

    private final Vertx vertx = Vertx.vertx();
    private final HttpServer server;
    volatile long startedMillis = System.currentTimeMillis() - 3_600_000;
    volatile boolean probeAvailable = true;
    /** closedPortResets reported off, with a hostile reason */
    volatile boolean featureOff;
    volatile long lost = 0;
    /* the probe loop's step failures and the outage, as /api/v1/health has them */
    volatile JsonArray probeErrors = new JsonArray();
    volatile JsonObject outage = null;
    /** Event streams the server holds open now. */
    final java.util.concurrent.atomic.AtomicInteger openStreams = new java.util.concurrent.atomic.AtomicInteger();

    FakeAgent() throws Exception {
        Router r = Router.router(vertx);
        r.route().handler(ctx -> {
            ctx.addHeadersEndHandler(v -> ctx.response().headers()
                    .set("Content-Security-Policy", CSP).set("X-Content-Type-Options", "nosniff"));
            ctx.next();
        });
        r.get("/api/v1/stream").handler(this::stream);
        r.get("/api/v1/history").handler(ctx -> ctx.json(history(Integer.parseInt(param(ctx, "seconds", "900")))));
        r.get("/api/v1/history/listener").handler(ctx -> ctx.json(listenerHistory()));
        r.get("/api/v1/listeners").handler(ctx -> ctx.json(listeners()));
        r.get("/api/v1/peers").handler(ctx -> ctx.json(peers(ctx.request().getParam("netns"))));
        r.get("/api/v1/timewait").handler(ctx -> ctx.json(timewait()));
        r.get("/api/v1/closewait").handler(ctx -> ctx.json(closewait()));
        r.get("/api/v1/alerts").handler(ctx -> ctx.json(alerts()));
        r.get("/api/v1/latency").handler(ctx -> ctx.json(latency()));
        r.get("/api/v1/events").handler(ctx -> ctx.json(new JsonObject().put("events", new JsonArray().add(event(1)))));
        r.get("/*").handler(StaticHandler.create("dashboard").setCachingEnabled(false));
        server = vertx.createHttpServer().requestHandler(r).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    String url() {
        return "http://127.0.0.1:" + server.actualPort() + "/";
    }

    private static String param(RoutingContext ctx, String name, String dflt) {
        String v = ctx.request().getParam(name);
        return v == null || v.isBlank() ? dflt : v;
    }

    private void stream(RoutingContext ctx) {
        HttpServerResponse res = ctx.response().setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8").putHeader("Cache-Control", "no-cache");
        res.write("retry: 1000\n\n");
        openStreams.incrementAndGet();
        long[] seq = {0};
        Runnable tick = () -> {
            res.write("event: states\ndata: " + states().encode() + "\n\n");
            res.write("event: event\ndata: " + event(++seq[0]).encode() + "\n\n");
        };
        tick.run();
        long timer = vertx.setPeriodic(500, id -> tick.run());
        res.closeHandler(v -> {
            vertx.cancelTimer(timer);
            openStreams.decrementAndGet();
        });
    }

    JsonObject states() {
        JsonObject s = new JsonObject();
        String[] names = {"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
            "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"};
        for (int i = 0; i < names.length; i++) s.put(names[i], (long) i * 3);
        JsonObject out = outage;
        JsonObject health = new JsonObject()
                .put("status", probeAvailable && out == null ? "ok" : "degraded")
                .put("probe", new JsonObject().put("available", probeAvailable)
                        .put("cause", !probeAvailable ? "bpf() denied: " + HOSTILE : out == null ? null : "collection failing")
                        .put("mode", probeAvailable ? "bpf" : "procfs")
                        .put("errors", probeErrors).put("outage", out)
                        .put("features", new JsonArray()
                                .add(new JsonObject().put("name", "stateChanges").put("on", true).put("what", "every state change"))
                                .add(new JsonObject().put("name", "closedPortResets").put("on", !featureOff)
                                        .put("what", "RSTs of closed ports").put("reason", featureOff ? "refused: " + HOSTILE : null))))
                .put("events", new JsonObject().put("seen", 100).put("consumed", 100).put("lost", lost)
                        .put("sampledOut", 0).put("mapFull", 0).put("decodeErrors", 0).put("samplingRatio", 1))
                .put("walk", new JsonObject().put("lastMillis", 0).put("micros", 0).put("sockets", 0))
                .put("startedMillis", startedMillis);
        return new JsonObject().put("states", s).put("netns", new JsonArray().add(4026531840L).add(NS))
                .put("status", health.getString("status")).put("health", health).put("dropped", 0);
    }

    static JsonObject event(long seq) {
        return new JsonObject().put("time", Instant.now().toString()).put("tsNs", seq).put("kind", "STATE")
                .put("netns", NS).put("family", 4).put("local", "127.0.0.1").put("localPort", 40000 + seq)
                .put("remote", "127.0.0.1").put("remotePort", 8080).put("from", "CLOSE").put("to", "SYN_SENT")
                .put("prevStateMs", null).put("ageMs", null).put("sockId", seq).put("pid", 4242)
                .put("comm", HOSTILE.substring(0, 15)).put("cgroupId", 1).put("sampleRatio", 1);
    }

    /** 300 s of history: ESTABLISHED climbing, a hot handshake edge, timewait hand-overs. */
    static JsonObject history(int seconds) {
        long now = System.currentTimeMillis() / 1000;
        int n = Math.min(seconds, 300);
        JsonArray time = new JsonArray();
        JsonArray est = new JsonArray(), tw = new JsonArray(), zero = new JsonArray();
        JsonArray hot = new JsonArray(), warm = new JsonArray(), handover = new JsonArray(), close = new JsonArray();
        for (int i = 0; i < n; i++) {
            time.add(now - n + 1 + i);
            est.add(100 + i);
            tw.add(2000 + 5 * i);
            zero.add(0);
            hot.add(500);
            warm.add(5);
            handover.add(50);
            close.add(60);
        }
        JsonObject states = new JsonObject();
        for (String s : new String[]{"SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "LAST_ACK",
            "LISTEN", "CLOSING", "NEW_SYN_RECV"}) states.put(s, zero);
        states.put("ESTABLISHED", est).put("TIME_WAIT", tw);
        JsonArray transitions = new JsonArray()
                .add(new JsonObject().put("from", "SYN_SENT").put("to", "ESTABLISHED").put("derived", false).put("rate", hot))
                .add(new JsonObject().put("from", "FIN_WAIT2").put("to", "CLOSE").put("derived", false).put("rate", close))
                .add(new JsonObject().put("from", "FIN_WAIT2").put("to", "TIME_WAIT").put("derived", true).put("rate", handover))
                .add(new JsonObject().put("from", "ESTABLISHED").put("to", "CLOSE").put("derived", false).put("rate", warm));
        return new JsonObject().put("netns", null).put("intervalSeconds", 1).put("time", time)
                .put("states", states).put("transitions", transitions).put("seriesDropped", 0);
    }

    static JsonObject listenerHistory() {
        long now = System.currentTimeMillis() / 1000;
        JsonArray time = new JsonArray(), q = new JsonArray(), r = new JsonArray(), z = new JsonArray();
        for (int i = 0; i < 60; i++) {
            time.add(now - 59 + i);
            q.add(i % 5);
            r.add(i % 3);
            z.add(0);
        }
        return new JsonObject().put("netns", NS).put("addr", "0.0.0.0").put("port", 8080).put("intervalSeconds", 1)
                .put("acceptQueueMax", 4).put("synQueueMax", 128).put("time", time)
                .put("acceptQueue", q).put("synQueue", z).put("overflows", r).put("drops", r)
                .put("synAckRetransmits", z).put("resetsSent", z);
    }

    static JsonObject listener(String addr, int port, int aq, int aqMax, long overflows, String comm, String unit, String verdict) {
        return new JsonObject().put("netns", NS).put("addr", addr).put("port", port)
                .put("acceptQueue", aq).put("acceptQueueMax", aqMax).put("synQueue", 0).put("synQueueMax", 128)
                .put("overflows", overflows).put("drops", overflows).put("synAckRetransmits", 0).put("resetsSent", 0)
                .put("owner", new JsonObject().put("pid", 4242).put("comm", comm).put("unit", unit))
                .put("verdict", verdict);
    }

    /** The connections a listener's port accepted: by state, how many, what they carried. */
    static JsonObject accepted(JsonObject listener, JsonObject states, long accepted, long retransmits,
                               long bytesSent, long bytesReceived, JsonObject rtt) {
        return listener.put("states", states).put("accepted", accepted).put("retransmits", retransmits)
                .put("bytesSent", bytesSent).put("bytesReceived", bytesReceived).put("rtt", rtt);
    }

    static JsonObject rtt(long count, Double p50, Double p90, Double p99) {
        return new JsonObject().put("count", count).put("p50", p50).put("p90", p90).put("p99", p99);
    }

    static JsonObject listeners() {
        return new JsonObject().put("listeners", new JsonArray()
                .add(accepted(listener("0.0.0.0", 8080, 5, 4, 46, HOSTILE.substring(0, 15), "evil-" + HOSTILE + ".service", "accept-queue-full"),
                        new JsonObject().put("ESTABLISHED", 12).put("CLOSE_WAIT", 3), 1234, 17, 3L << 20, 1536,
                        rtt(40, 0.00025, 0.001, 0.0042)))
                .add(accepted(listener("127.0.0.1", 22, 0, 128, 0, "sshd", "ssh.service", "ok"),
                        new JsonObject(), 0, 0, 4096, 2048, rtt(0, null, null, null)))
                // an older agent's answer: no figures about the accepted connections
                .add(listener("::", 443, 1, 511, 3, "nginx", "nginx.service", "ok")));
    }

    static JsonObject failed(long refused, long timeout, long unreachable, long reset, long other) {
        return new JsonObject().put("refused", refused).put("timeout", timeout).put("unreachable", unreachable)
                .put("reset", reset).put("other", other);
    }

    static JsonObject owner(int pid, String comm, String unit) {
        return new JsonObject().put("pid", pid).put("comm", comm).put("unit", unit);
    }

    /**
     * GET /api/v1/peers: three destinations of namespace NS in the agent's order (most active
     * first), a hostile process name and unit among the owners; none in another namespace.
     */
    static JsonObject peers(String netns) {
        JsonArray peers = new JsonArray()
                .add(new JsonObject().put("netns", NS).put("remote", "10.0.0.7:5432")
                        .put("states", new JsonObject().put("ESTABLISHED", 12).put("SYN_SENT", 2).put("TIME_WAIT", 30))
                        .put("connects", 200).put("established", 180).put("failed", failed(7, 3, 0, 0, 0))
                        .put("retransmits", 42).put("segmentsSent", 8400).put("retransmitRatio", 0.005)
                        .put("bytesSent", 1_572_864L).put("bytesReceived", 5L << 30)
                        .put("rtt", rtt(212, 0.000512, 0.0031, 0.0125))
                        .put("owners", new JsonArray().add(owner(4242, HOSTILE.substring(0, 15), "evil-" + HOSTILE + ".service"))
                                .add(owner(4243, "psql", "app.service"))))
                .add(new JsonObject().put("netns", NS).put("remote", "[2001:db8::1]:443")
                        .put("states", new JsonObject().put("ESTABLISHED", 3))
                        .put("connects", 40).put("established", 40).put("failed", failed(0, 0, 0, 0, 0))
                        .put("retransmits", 0).put("bytesSent", 2048).put("bytesReceived", 900)
                        .put("rtt", rtt(0, null, null, null))
                        .put("owners", new JsonArray().add(owner(9, "curl", ""))))
                // nothing sampled and no owner known: rtt absent, owners empty
                .add(new JsonObject().put("netns", NS).put("remote", "192.0.2.9:80")
                        .put("states", new JsonObject().put("SYN_SENT", 1))
                        .put("connects", 5).put("established", 0).put("failed", failed(0, 4, 0, 0, 0))
                        .put("retransmits", 9).put("bytesSent", 0).put("bytesReceived", 0)
                        .put("owners", new JsonArray()));
        if (netns != null && !netns.isBlank() && !netns.equals(String.valueOf(NS))) peers = new JsonArray();
        return new JsonObject().put("total", peers.size()).put("peers", peers)
                .put("page", new JsonObject().put("offset", 0).put("limit", 200).put("total", peers.size()).put("returned", peers.size()));
    }

    static JsonObject timewait() {
        return new JsonObject().put("total", 3000).put("entriesPerSecond", 50.0).put("maxBuckets", 262144).put("overflows", 0)
                .put("byRemote", new JsonArray()
                        .add(new JsonObject().put("remote", "10.0.0.7:5432").put("local", "10.0.0.2").put("count", 3000)
                                .put("portsInUse", 3000).put("portRange", 4000).put("exhaustion", 0.75).put("secondsToExhaustion", 20.0))
                        .add(new JsonObject().put("remote", "[2001:db8::1]:443").put("local", "2001:db8::2").put("count", 10)
                                .put("portsInUse", 12).put("portRange", 28232).put("exhaustion", 0.0004).putNull("secondsToExhaustion")))
                .put("byLocalPort", new JsonArray().add(new JsonObject().put("port", 8080).put("count", 12)));
    }

    static JsonObject closewait() {
        return new JsonObject().put("total", 57).put("byOwner", new JsonArray()
                .add(new JsonObject().put("pid", 777).put("comm", HOSTILE.substring(0, 15)).put("unit", "leaky.service")
                        .put("count", 50).put("oldestAgeSeconds", 312.5).put("growthPerMinute", 12.0).put("leaking", true))
                .add(new JsonObject().put("pid", 778).put("comm", "java").put("unit", "")
                        .put("count", 7).put("oldestAgeSeconds", 2.0).put("growthPerMinute", 0.0).put("leaking", false)));
    }

    static JsonObject alerts() {
        JsonObject labels = new JsonObject().put("alertname", "ListenerOverflow").put("severity", "critical")
                .put("netns", String.valueOf(NS)).put("port", "8080").put("comm", HOSTILE);
        JsonObject firing = new JsonObject().put("rule", "listener-overflow").put("state", "FIRING").put("labels", labels)
                .put("annotations", new JsonObject().put("summary", "Listener 0.0.0.0:8080 of " + HOSTILE + " overflowed 46 times in 1m")
                        .put("description", "the accept queue (limit 4) is full: the application does not accept fast enough"))
                .put("value", 46.0).put("since", Instant.now().minusSeconds(90).toString());
        JsonObject resolved = firing.copy().put("state", "RESOLVED").put("resolvedAt", Instant.now().toString())
                .put("annotations", new JsonObject().put("summary", "an older overflow, now over"));
        return new JsonObject().put("firing", new JsonArray().add(firing)).put("pending", new JsonArray())
                .put("recent", new JsonArray().add(resolved));
    }

    static JsonObject latency() {
        JsonObject out = new JsonObject();
        for (String k : new String[]{"handshakeClient", "handshakeServer", "lifetime"}) {
            JsonArray buckets = new JsonArray();
            for (int i = 0; i <= 36; i++) {
                buckets.add(new JsonObject().put("le", i < 36 ? (1L << i) / 1e6 : null).put("count", i >= 5 && i <= 9 ? (10 - Math.abs(7 - i) * 3) : 0));
            }
            out.put(k, new JsonObject().put("count", 20).put("sum", 0.01).put("p50", 0.000128).put("p90", 0.0003)
                    .put("p99", 0.0005).put("p999", 0.0005).put("max", 0.000512).put("buckets", buckets));
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
