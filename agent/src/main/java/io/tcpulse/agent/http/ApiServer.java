package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The agent's HTTP face: JSON API, Server-Sent Events, Prometheus metrics and the
 * dashboard. Handlers read the latest immutable snapshot and never block.
 */
public final class ApiServer extends VerticleBase {
    private static final System.Logger LOG = System.getLogger(ApiServer.class.getName());

    static final String CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            + "script-src 'self'; connect-src 'self'";
    static final int DEFAULT_EVENT_LIMIT = 100;
    static final int MAX_EVENT_LIMIT = 10_000;
    /** Tells EventSource how long to wait before reconnecting (ms). */
    static final int SSE_RETRY_MILLIS = 2000;

    private final SnapshotSource source;
    private final String host;
    private final int port;
    private final long statesIntervalMillis;
    private final int maxEventsPerSecond;
    /** Open SSE streams; touched on this verticle's event loop only. */
    private final Set<SseStream> streams = new HashSet<>();
    private HttpServer server;
    /** The cap on connections and the request head deadline: the probe keeps its descriptors. */
    private volatile ConnectionGuard guard;
    /** Token, TLS, limits, CORS (issue 7); loopback defaults unless set before deploy; a reload switches it. */
    private volatile HttpSecurity security;
    /** What POST /api/v1/reload runs (SIGHUP runs it too): re-read the config. Runs off the event loop. */
    private volatile ReloadHook reloadHook;
    /** Where the config came from and how its last (re)load went; shown by /api/v1/health. */
    private volatile ConfigState configState;
    /** Routes and metrics other packages add (alerts, issue 5); set before deploying. */
    private final List<java.util.function.Consumer<Router>> extraRoutes = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<PrometheusWriter.Extra> extraMetrics = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Port 0 picks a free port: see {@link #actualPort()}. */
    public ApiServer(SnapshotSource source, String host, int port) {
        this(source, host, port, 1000, 200);
    }

    /**
     * @param statesIntervalMillis how often the stream sends a `states` message
     * @param maxEventsPerSecond   `event` messages allowed per stream; the rest are dropped
     *                             and counted in the next `states` message
     */
    public ApiServer(SnapshotSource source, String host, int port,
                     long statesIntervalMillis, int maxEventsPerSecond) {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("http port must be 0..65535, got " + port);
        if (statesIntervalMillis < 1) {
            throw new IllegalArgumentException("states interval must be positive, got " + statesIntervalMillis + "ms");
        }
        if (maxEventsPerSecond < 0) {
            throw new IllegalArgumentException("max events per second must be >= 0, got " + maxEventsPerSecond);
        }
        this.source = source;
        this.host = host;
        this.port = port;
        this.statesIntervalMillis = statesIntervalMillis;
        this.maxEventsPerSecond = maxEventsPerSecond;
    }

    /** Replaces the loopback defaults; call before deploying. */
    public ApiServer security(HttpSecurity security) {
        this.security = security;
        return this;
    }

    /** Adds routes (declared after the built-in ones) and metric families; call before deploying. */
    public ApiServer extend(java.util.function.Consumer<Router> routes, PrometheusWriter.Extra metrics) {
        if (routes != null) extraRoutes.add(routes);
        if (metrics != null) extraMetrics.add(metrics);
        return this;
    }

    /** Re-reads the config; returns what the answer adds to {"reloaded":true}, or throws why nothing changed. */
    @FunctionalInterface
    public interface ReloadHook {
        JsonObject reload() throws Exception;
    }

    /**
     * The config in force: its file (null: flags only), when it was loaded, the problem of
     * the last reload that was refused (null once one succeeds) and the settings the file
     * changes that wait for a restart.
     */
    public record ConfigState(String file, long loadedMillis, String lastError, List<String> restartRequired) {
        public ConfigState {
            restartRequired = List.copyOf(restartRequired);
        }

        public ConfigState failed(String error) {
            return new ConfigState(file, loadedMillis, error, restartRequired);
        }
    }

    public void setReloadHook(ReloadHook hook) {
        this.reloadHook = hook;
    }

    public void setConfigState(ConfigState state) {
        this.configState = state;
    }

    /**
     * Switches to other settings (a reload); the listening address and http/https stay.
     * A renewed TLS pair is loaded first: if it cannot be used, nothing changes.
     */
    public Future<Void> updateSecurity(HttpSecurity next) {
        if (server == null || !next.tls()) {
            security = next;
            return Future.succeededFuture();
        }
        return server.updateSSLOptions(next.sslOptions(), true).map(updated -> {
            security = next;
            return null;
        });
    }

    @Override
    public Future<?> start() {
        if (security == null) security = HttpSecurity.loopbackDefaults(host, port);
        // measured now, with the probe loaded: what the descriptor limit leaves for clients
        ConnectionGuard connections = new ConnectionGuard(vertx, () -> security, ConnectionGuard.Budget.measure());
        guard = connections;
        Router router = Router.router(vertx);
        router.route().handler(connections::onRequest);
        router.route().handler(this::securityHeaders);
        HttpSecurity.install(router, () -> security); // rate limit, size, Host, CORS, token: before every route
        // the only route that is not a GET; it re-reads the config file, never kernel state
        router.post("/api/v1/reload").handler(this::reload);
        router.get("/api/v1/health").handler(this::health);
        router.get("/api/v1/states").handler(this::states);
        router.get("/api/v1/transitions").handler(this::transitions);
        router.get("/api/v1/events").handler(this::events);
        router.get("/api/v1/latency").handler(this::latency);
        router.get("/api/v1/stream").handler(this::stream);
        HistoryApi.mount(router, source.history()); // GET /api/v1/history, /api/v1/history/listener
        extraRoutes.forEach(r -> r.accept(router)); // GET /api/v1/alerts, /api/v1/alerts/rules
        ListenersApi.mount(router, source, this::listLimit); // GET /api/v1/listeners
        ClosingApi.mount(router, source, this::listLimit);   // GET /api/v1/timewait, /closewait, /resets
        PeersApi.mount(router, source, this::listLimit);     // GET /api/v1/peers
        router.get("/metrics").handler(this::metrics);
        router.get("/*").handler(StaticHandler.create("dashboard")
                .setCachingEnabled(false)
                .setDirectoryListing(false));
        router.route().failureHandler(this::failure);
        router.errorHandler(404, ctx -> error(ctx, 404, "not found", "no resource at " + ctx.request().path()));
        router.errorHandler(405, ctx -> error(ctx, 405, "method not allowed",
                ctx.request().method() + " is not allowed on " + ctx.request().path()));

        return vertx.createHttpServer(security.serverOptions(port))
                .connectionHandler(connections::onConnection)
                .requestHandler(router)
                .listen()
                .onSuccess(s -> {
                    server = s;
                    ConnectionGuard.Budget b = connections.budget();
                    LOG.log(System.Logger.Level.INFO, "HTTP API listening on {0}:{1,number,#}, at most {2} connections"
                                    + " (RLIMIT_NOFILE {3}, {4} open at start, {5} kept for the probe)", host, s.actualPort(),
                            Integer.toString(connections.maxConnections()), Long.toString(b.fdLimit()),
                            Integer.toString(b.openAtStart()), Integer.toString(ConnectionGuard.FD_RESERVE));
                });
    }

    @Override
    public Future<?> stop() {
        new ArrayList<>(streams).forEach(SseStream::close);
        return server == null ? Future.succeededFuture() : server.close();
    }

    /** The port the server listens on, once started. */
    public int actualPort() {
        return server == null ? -1 : server.actualPort();
    }

    // ---- handlers, one per route ----

    private void securityHeaders(RoutingContext ctx) {
        // set just before the headers go out so error pages and static files get them too
        ctx.addHeadersEndHandler(v -> ctx.response().headers()
                .set("X-Content-Type-Options", "nosniff")
                .set("Content-Security-Policy", CSP)
                .set("Referrer-Policy", "no-referrer"));
        ctx.next();
    }

    private void health(RoutingContext ctx) {
        JsonObject health = ApiJson.health(source.current().health());
        ConnectionGuard connections = guard;
        if (connections != null) health.put("http", ApiJson.http(connections));
        ConfigState config = configState;
        if (config != null) health.put("config", ApiJson.config(config));
        health.put("agent", ApiJson.agent(io.tcpulse.agent.host.SelfUsage.now()));
        ctx.json(health);
    }

    private void states(RoutingContext ctx) {
        ctx.json(ApiJson.states(source.current(), netnsParam(ctx)));
    }

    private void transitions(RoutingContext ctx) {
        ctx.json(ApiJson.transitions(source.current(), netnsParam(ctx)));
    }

    private void events(RoutingContext ctx) {
        EventFilter filter = EventFilter.of(ctx);
        Page page = Page.of(ctx, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT);
        JsonArray out = new JsonArray();
        int total = 0;
        for (Event e : source.current().recent()) { // newest first already
            if (!filter.matches(e)) continue;
            if (total >= page.offset() && out.size() < page.limit()) out.add(ApiJson.event(e));
            total++;
        }
        ctx.json(new JsonObject().put("events", out).put("page", page.json(total, out.size())));
    }

    /** The default page size of the list endpoints (limits.apiListLimit). */
    private int listLimit() {
        return security.limits().apiListLimit();
    }

    /**
     * ?limit=N&offset=M of a list endpoint; the answer's "page" says offset, limit, total
     * (items matching before paging) and returned.
     */
    record Page(int offset, int limit) {
        static Page of(RoutingContext ctx, int dflt, int max) {
            return new Page(intParam(ctx, "offset", 0, Integer.MAX_VALUE, 0), intParam(ctx, "limit", 1, max, Math.min(dflt, max)));
        }

        <T> List<T> apply(List<T> all) {
            if (offset >= all.size()) return List.of();
            return all.subList(offset, (int) Math.min(all.size(), (long) offset + limit));
        }

        JsonObject json(int total, int returned) {
            return new JsonObject().put("offset", offset).put("limit", limit).put("total", total).put("returned", returned);
        }
    }

    private void latency(RoutingContext ctx) {
        ctx.json(ApiJson.latency(source.current().latencyOf(netnsParam(ctx))));
    }

    /** At most limits.maxStreams at once: past it 503 with Retry-After, counted. */
    private void stream(RoutingContext ctx) {
        EventFilter filter = EventFilter.of(ctx);
        int max = security.limits().maxStreams();
        if (streams.size() >= max) {
            ConnectionGuard g = guard;
            if (g != null) g.streamRefused();
            ctx.response().putHeader(HttpHeaders.RETRY_AFTER, Integer.toString(SSE_RETRY_MILLIS / 1000 * 5));
            error(ctx, 503, "service unavailable", max + " event streams are open (limits.maxStreams): retry later");
            return;
        }
        new SseStream(ctx.response(), filter).open();
    }

    /** Answers once the new config is in force, or 400 with the file's problems and nothing changed. */
    private void reload(RoutingContext ctx) {
        ReloadHook hook = reloadHook;
        if (hook == null) {
            error(ctx, 501, "not implemented", "this agent has nothing to reload");
            return;
        }
        vertx.executeBlocking(hook::reload)
                .onSuccess(done -> ctx.json(new JsonObject().put("reloaded", true).mergeIn(done)))
                .onFailure(t -> {
                    if (t instanceof Config.ConfigException bad) {
                        error(ctx, 400, "invalid config", bad.getMessage(),
                                new JsonObject().put("problems", new JsonArray(bad.problems())));
                    } else {
                        error(ctx, 500, "reload failed", t.getMessage());
                    }
                });
    }

    /** Built on a worker thread: 20,000 listeners take tens of milliseconds the event loop does not give. */
    private void metrics(RoutingContext ctx) {
        List<PrometheusWriter.Extra> extras = new ArrayList<>(extraMetrics);
        ConnectionGuard connections = guard;
        if (connections != null) extras.add(0, out -> PrometheusWriter.http(out, connections));
        extras.add(0, out -> PrometheusWriter.self(out, io.tcpulse.agent.host.SelfUsage.now()));
        Snapshot snapshot = source.current();
        int top = security.limits().metricsListeners(), topNamespaces = security.limits().metricsNamespaces();
        vertx.executeBlocking(() -> PrometheusWriter.write(snapshot, extras, top, topNamespaces), false)
                .onSuccess(text -> {
                    if (ctx.response().closed()) return;
                    ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, PrometheusWriter.CONTENT_TYPE).end(text);
                })
                .onFailure(ctx::fail);
    }

    // ---- errors ----

    private void failure(RoutingContext ctx) {
        Throwable t = ctx.failure();
        if (t instanceof BadParam bad) {
            error(ctx, 400, "bad request", bad.getMessage());
        } else if (ctx.statusCode() >= 400 && ctx.statusCode() < 500) {
            error(ctx, ctx.statusCode(), "bad request", t == null ? null : t.getMessage());
        } else {
            LOG.log(System.Logger.Level.ERROR, "request " + ctx.request().uri() + " failed", t);
            error(ctx, 500, "internal error", t == null ? null : t.toString());
        }
    }

    /** The one way errors leave this server: {"error":..., "detail":...} with the status. */
    static void error(RoutingContext ctx, int status, String error, String detail) {
        error(ctx, status, error, detail, null);
    }

    /** The same with more fields after error and detail (the problems of a config file). */
    static void error(RoutingContext ctx, int status, String error, String detail, JsonObject more) {
        HttpServerResponse response = ctx.response();
        if (response.ended()) return;
        if (response.headWritten()) { // mid-stream: nothing sensible left to say
            response.reset();
            return;
        }
        response.setStatusCode(status)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(new JsonObject().put("error", error).put("detail", detail).mergeIn(more == null ? new JsonObject() : more)
                        .encode());
    }

    // ---- query parameters: invalid values become 400, never 500 ----

    /** A query parameter that breaks its rule; the message states the rule and the value. */
    static final class BadParam extends RuntimeException {
        BadParam(String message) {
            super(message, null, false, false);
        }
    }

    private static String param(RoutingContext ctx, String name) {
        List<String> values = ctx.queryParam(name);
        if (values.isEmpty()) return null;
        String v = values.get(0).strip();
        return v.isEmpty() ? null : v;
    }

    static Long netnsParam(RoutingContext ctx) {
        String v = param(ctx, "netns");
        if (v == null) return null;
        try {
            long inode = Long.parseLong(v);
            if (inode > 0) return inode;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new BadParam("netns must be a namespace inode number (e.g. 4026531840), got '" + v + "'");
    }

    static Integer intParam(RoutingContext ctx, String name, int min, int max, Integer dflt) {
        String v = param(ctx, name);
        if (v == null) return dflt;
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new BadParam(name + " must be an integer in " + min + ".." + max + ", got '" + v + "'");
    }

    static TcpState stateParam(RoutingContext ctx) {
        String v = param(ctx, "state");
        if (v == null) return null;
        TcpState s = TcpState.parse(v);
        if (s == null) throw new BadParam("state must be a TCP state name such as TIME_WAIT or close-wait, got '" + v + "'");
        return s;
    }

    /** Which events a request asks for; null fields match everything. */
    record EventFilter(Long netns, Integer port, TcpState state, String peer) {
        static EventFilter of(RoutingContext ctx) {
            String peer = param(ctx, "peer");
            if (peer != null && peer.startsWith("[") && peer.endsWith("]")) peer = peer.substring(1, peer.length() - 1);
            return new EventFilter(netnsParam(ctx), intParam(ctx, "port", 0, 65535, null), stateParam(ctx), peer);
        }

        boolean matches(Event e) {
            return ApiJson.sameNetns(netns, e.netns())
                    && (port == null || e.localPort() == port || e.remotePort() == port)
                    && (state == null || e.from() == state || e.to() == state)
                    && (peer == null || peer.equalsIgnoreCase(ApiJson.address(e.remote())));
        }
    }

    // ---- Server-Sent Events ----

    /**
     * One client of /api/v1/stream. Everything here runs on this verticle's event loop:
     * event batches arrive on the probe thread and hop over with runOnContext.
     */
    private final class SseStream {
        private final HttpServerResponse response;
        private final EventFilter filter;
        private final int eventsPerTick;
        private long timerId = -1;
        private AutoCloseable subscription;
        private int budget;
        private long dropped;
        private boolean closed;

        SseStream(HttpServerResponse response, EventFilter filter) {
            this.response = response;
            this.filter = filter;
            this.eventsPerTick = (int) Math.min(Integer.MAX_VALUE, maxEventsPerSecond * statesIntervalMillis / 1000);
        }

        void open() {
            streams.add(this);
            response.setChunked(true)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8")
                    .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
                    .putHeader("X-Accel-Buffering", "no"); // keep reverse proxies from buffering
            response.closeHandler(v -> close());
            response.exceptionHandler(t -> close());
            response.write("retry: " + SSE_RETRY_MILLIS + "\n\n");
            sendStates();
            timerId = vertx.setPeriodic(statesIntervalMillis, id -> sendStates());
            subscription = source.subscribe(batch -> context.runOnContext(v -> onBatch(batch)));
        }

        /** Also opens the next rate-limit window: the budget refills with each states message. */
        private void sendStates() {
            if (closed || response.writeQueueFull()) return; // a stalled client gets no backlog
            Snapshot s = source.current();
            Health h = s.health();
            JsonObject msg = ApiJson.states(s, filter.netns())
                    .put("status", h.status())
                    .put("health", ApiJson.health(h))
                    .put("dropped", dropped);
            dropped = 0;
            budget = eventsPerTick;
            send("states", msg);
        }

        private void onBatch(List<Event> batch) {
            if (closed) return;
            for (Event e : batch) {
                if (!filter.matches(e)) continue;
                if (budget <= 0 || response.writeQueueFull()) {
                    dropped++;
                    continue;
                }
                budget--;
                send("event", ApiJson.event(e));
            }
        }

        private void send(String event, JsonObject data) {
            // encode() never emits a raw line break, so one data: line is enough
            response.write("event: " + event + "\ndata: " + data.encode() + "\n\n");
        }

        void close() {
            if (closed) return;
            closed = true;
            streams.remove(this);
            if (timerId >= 0) vertx.cancelTimer(timerId);
            if (subscription != null) {
                try {
                    subscription.close();
                } catch (Exception e) {
                    LOG.log(System.Logger.Level.WARNING, "closing an event subscription failed", e);
                }
            }
            if (!response.ended() && !response.closed()) response.end();
        }
    }
}
