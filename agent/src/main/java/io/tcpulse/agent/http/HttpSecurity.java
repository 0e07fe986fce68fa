package io.tcpulse.agent.http;

import io.tcpulse.agent.config.Config;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.ServerSSLOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Who may talk to the agent and how much: loopback unless a bearer token guards the
 * API, optional TLS, request size limits, a per-client rate limit, closed CORS and a
 * Host check against DNS rebinding. Rules are checked when the settings are read (at
 * start-up and on each reload), with messages that name the setting and the value seen.
 * An instance never changes: a reload builds another and the server switches to it.
 */
public final class HttpSecurity {
    private static final System.Logger LOG = System.getLogger(HttpSecurity.class.getName());

    /** Request line (method, path, query): longer ones get 414. */
    public static final int MAX_INITIAL_LINE = 4096;
    /** All header lines together: more gets 431. */
    public static final int MAX_HEADER_BYTES = 8192;
    /** A connection silent this long is closed (an SSE stream writes every second). */
    public static final int IDLE_TIMEOUT_SECONDS = 60;
    static final int MIN_TOKEN_LENGTH = 16;
    static final long MIN_REQUEST_BYTES = 1024;
    /** Buckets kept for this many distinct clients before idle ones are dropped. */
    static final int MAX_TRACKED_CLIENTS = 10_000;

    /** RFC 6750 b64token: what may follow "Bearer ". */
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9._~+/-]+=*");
    private static final Pattern ORIGIN = Pattern.compile("https?://[^/\\s?#]+");

    private final String host;
    private final boolean loopback;
    private final byte[] tokenDigest; // null: no token configured
    private final String tlsCert, tlsKey;
    private final byte[] tlsCertDigest, tlsKeyDigest; // what the files held: a reload tells a renewed pair
    private final long maxRequestBytes;
    private final RateLimiter limiter;
    private final Set<String> corsOrigins;
    private final int maxConnections; // 0: what the descriptors allow (ConnectionGuard)
    private io.tcpulse.agent.config.Limits limits = io.tcpulse.agent.config.Limits.defaults(); // set once, by withLimits

    private HttpSecurity(String host, boolean loopback, byte[] tokenDigest, String tlsCert, String tlsKey,
                         byte[] tlsCertDigest, byte[] tlsKeyDigest, long maxRequestBytes, RateLimiter limiter,
                         Set<String> corsOrigins, int maxConnections) {
        this.host = host;
        this.loopback = loopback;
        this.tokenDigest = tokenDigest;
        this.tlsCert = tlsCert;
        this.tlsKey = tlsKey;
        this.tlsCertDigest = tlsCertDigest;
        this.tlsKeyDigest = tlsKeyDigest;
        this.maxRequestBytes = maxRequestBytes;
        this.limiter = limiter;
        this.corsOrigins = corsOrigins;
        this.maxConnections = maxConnections;
    }

    /** The agent's HTTP settings, checked. */
    public static HttpSecurity of(Config c) throws Config.ConfigException {
        return create(c.host(), c.port(), c.tokenFile(), c.tlsCert(), c.tlsKey(), c.maxRequestBytes(),
                c.requestsPerSecond(), c.corsOrigins(), System::nanoTime).withMaxConnections(c.maxConnections()).withLimits(c.limits());
    }

    /** Loopback, no token, no rate limit: for embedding and tests. */
    static HttpSecurity loopbackDefaults(String host, int port) {
        try {
            return create(host, port, null, null, null, 64 * 1024, 0, List.of(), System::nanoTime);
        } catch (Config.ConfigException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    static HttpSecurity create(String host, int port, String tokenFile, String tlsCert, String tlsKey,
                               long maxRequestBytes, int requestsPerSecond, List<String> corsOrigins,
                               LongSupplier nanoTime) throws Config.ConfigException {
        boolean loopback = isLoopback(host);
        byte[] digest = tokenFile == null ? null : sha256(readToken(Path.of(tokenFile)));
        if (!loopback && digest == null) {
            throw new Config.ConfigException("listen address " + host + ":" + port + " is not a loopback address:"
                    + " a bearer token is required there (put one in a file readable only by the agent,"
                    + " e.g. `openssl rand -hex 32 > /etc/tcpulse/token`, and set --token-file FILE"
                    + " or http.tokenFile), or listen on 127.0.0.1");
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new Config.ConfigException("http.tlsCert and http.tlsKey go together, got tlsCert="
                    + tlsCert + " and tlsKey=" + tlsKey);
        }
        byte[] certDigest = null, keyDigest = null;
        if (tlsCert != null) {
            certDigest = fileDigest("http.tlsCert", tlsCert);
            keyDigest = fileDigest("http.tlsKey", tlsKey);
        }
        if (maxRequestBytes < MIN_REQUEST_BYTES) {
            throw new Config.ConfigException("http.maxRequestBytes must be at least " + MIN_REQUEST_BYTES
                    + ", got " + maxRequestBytes);
        }
        if (requestsPerSecond < 0) {
            throw new Config.ConfigException("http.requestsPerSecond must be 0 (no limit) or more, got "
                    + requestsPerSecond);
        }
        List<String> origins = corsOrigins == null ? List.of() : corsOrigins;
        for (String o : origins) {
            if (o == null || !ORIGIN.matcher(o).matches()) {
                throw new Config.ConfigException("http.corsOrigins entries must be origins like"
                        + " https://grafana.example.com (scheme://host[:port], no path, no \"*\"), got \"" + o + "\"");
            }
        }
        RateLimiter limiter = requestsPerSecond == 0 ? null : new RateLimiter(requestsPerSecond, nanoTime);
        return new HttpSecurity(host, loopback, digest, tlsCert, tlsKey, certDigest, keyDigest, maxRequestBytes, limiter,
                Set.copyOf(origins.stream().map(s -> s.toLowerCase(Locale.ROOT)).toList()), 0);
    }

    /** These settings with another cap on concurrent connections (0: what the descriptors allow). */
    HttpSecurity withMaxConnections(int max) {
        if (max < 0) throw new IllegalArgumentException("http.maxConnections must be 0 (automatic) or more, got " + max);
        return sameLimits(new HttpSecurity(host, loopback, tokenDigest, tlsCert, tlsKey, tlsCertDigest, tlsKeyDigest,
                maxRequestBytes, limiter, corsOrigins, max));
    }

    /** These settings with other bounds (series in /metrics, page size, connections per client, streams). */
    public HttpSecurity withLimits(io.tcpulse.agent.config.Limits l) {
        HttpSecurity h = new HttpSecurity(host, loopback, tokenDigest, tlsCert, tlsKey, tlsCertDigest, tlsKeyDigest,
                maxRequestBytes, limiter, corsOrigins, maxConnections);
        h.limits = java.util.Objects.requireNonNull(l);
        return h;
    }

    private HttpSecurity sameLimits(HttpSecurity h) {
        h.limits = limits;
        return h;
    }

    /** Bounds on series, pages, connections per client address and streams (issue 11). */
    public io.tcpulse.agent.config.Limits limits() { return limits; }

    /** The configured cap on concurrent connections; 0: automatic (see ConnectionGuard). */
    public int maxConnections() { return maxConnections; }

    /** These settings with previous's rate-limit buckets when the rate is the same: a reload forgives no burst. */
    public HttpSecurity keepingBucketsOf(HttpSecurity previous) {
        if (previous == null || limiter == null || previous.limiter == null || previous.limiter.perSecond != limiter.perSecond) {
            return this;
        }
        return sameLimits(new HttpSecurity(host, loopback, tokenDigest, tlsCert, tlsKey, tlsCertDigest, tlsKeyDigest,
                maxRequestBytes, previous.limiter, corsOrigins, maxConnections));
    }

    /** What these settings read from files that differs from previous: http.tokenFile, http.tlsCert, http.tlsKey. */
    public List<String> fileChanges(HttpSecurity previous) {
        List<String> out = new java.util.ArrayList<>();
        if (!java.util.Arrays.equals(tokenDigest, previous.tokenDigest)) out.add("http.tokenFile");
        if (!java.util.Arrays.equals(tlsCertDigest, previous.tlsCertDigest)) out.add("http.tlsCert");
        if (!java.util.Arrays.equals(tlsKeyDigest, previous.tlsKeyDigest)) out.add("http.tlsKey");
        return out;
    }

    public boolean tokenRequired() { return tokenDigest != null; }

    public boolean tls() { return tlsCert != null; }

    /** "http" or "https". */
    public String scheme() { return tls() ? "https" : "http"; }

    /** Size limits, timeouts and TLS of the listening socket. */
    public HttpServerOptions serverOptions(int port) {
        HttpServerOptions o = new HttpServerOptions()
                .setHost(host)
                .setPort(port)
                .setMaxInitialLineLength(MAX_INITIAL_LINE)
                .setMaxHeaderSize(MAX_HEADER_BYTES)
                .setMaxFormAttributeSize((int) Math.min(maxRequestBytes, Integer.MAX_VALUE))
                .setIdleTimeout(IDLE_TIMEOUT_SECONDS)
                .setIdleTimeoutUnit(TimeUnit.SECONDS)
                // connections wait in the kernel, not in the process: a burst reaches the acceptor a
                // short queue at a time, and what is over the cap is closed (ConnectionGuard)
                .setAcceptBacklog(ConnectionGuard.ACCEPT_BACKLOG)
                .setSslHandshakeTimeout(ConnectionGuard.HEADER_TIMEOUT_SECONDS) // a silent TLS client waits no longer
                .setSslHandshakeTimeoutUnit(TimeUnit.SECONDS)
                .setCompressionSupported(false)
                .setDecompressionSupported(false) // no zip bombs
                .setHttp2ClearTextEnabled(false); // HTTP/1.1 only: one parser to limit
        if (tls()) o.setSsl(true).setKeyCertOptions(keyCert());
        return o;
    }

    /** The PEM pair for a running server (HttpServer.updateSSLOptions); null without TLS. */
    public ServerSSLOptions sslOptions() {
        return tls() ? new ServerSSLOptions().setKeyCertOptions(keyCert()) : null;
    }

    private PemKeyCertOptions keyCert() {
        return new PemKeyCertOptions().setCertPath(tlsCert).setKeyPath(tlsKey);
    }

    /**
     * Installs the checks in front of every route, in this order. A request is checked
     * whole against the settings current when it arrived: a reload switches them between
     * requests, never halfway through one.
     */
    public static void install(Router router, Supplier<HttpSecurity> current) {
        router.route().handler(ctx -> {
            ctx.put(CONTEXT_KEY, current.get());
            ctx.next();
        });
        router.route().handler(ctx -> forRequest(ctx).rateLimit(ctx));
        router.route().handler(ctx -> forRequest(ctx).sizeLimit(ctx));
        router.route().handler(ctx -> forRequest(ctx).hostCheck(ctx));
        router.route().handler(ctx -> forRequest(ctx).cors(ctx));
        router.route().handler(ctx -> forRequest(ctx).authenticate(ctx));
        router.route().handler(ctx -> forRequest(ctx).crossSiteWrites(ctx));
    }

    private static final String CONTEXT_KEY = HttpSecurity.class.getName();

    private static HttpSecurity forRequest(RoutingContext ctx) {
        return ctx.get(CONTEXT_KEY);
    }

    // ---- handlers ----

    private void rateLimit(RoutingContext ctx) {
        if (limiter != null) {
            String client = clientOf(ctx.request());
            if (!limiter.tryAcquire(client)) {
                ctx.response().putHeader(HttpHeaders.RETRY_AFTER, "1");
                ApiServer.error(ctx, 429, "too many requests", "more than " + limiter.perSecond
                        + " requests per second from " + client + " (http.requestsPerSecond); retry in a second");
                return;
            }
        }
        ctx.next();
    }

    /** Bodies are never buffered; a declared one larger than the limit is refused outright. */
    private void sizeLimit(RoutingContext ctx) {
        String length = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 0) {
                ApiServer.error(ctx, 400, "bad request", "Content-Length must be a non-negative number, got '" + length + "'");
                return;
            }
            if (n > maxRequestBytes) {
                ApiServer.error(ctx, 413, "request too large", "body of " + n + " bytes is over http.maxRequestBytes ("
                        + maxRequestBytes + ")");
                return;
            }
        }
        ctx.next();
    }

    /**
     * On loopback without a token the only guard is the address, and a web page could
     * rebind its own name to 127.0.0.1: answer only requests addressed to a local name.
     */
    private void hostCheck(RoutingContext ctx) {
        if (!loopback || tokenDigest != null) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader(HttpHeaders.HOST);
        if (header != null && !isLocalName(hostPart(header))) {
            ApiServer.error(ctx, 403, "forbidden", "Host '" + header + "' is not a local name: the agent listens on "
                    + host + " and answers only to localhost, 127.0.0.1 or [::1]");
            return;
        }
        ctx.next();
    }

    /** Closed unless http.corsOrigins lists the requesting origin. */
    private void cors(RoutingContext ctx) {
        String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
        if (origin == null || !corsOrigins.contains(origin.toLowerCase(Locale.ROOT))) {
            ctx.next();
            return;
        }
        ctx.response().putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN, origin).putHeader(HttpHeaders.VARY, "Origin");
        if (ctx.request().method() == HttpMethod.OPTIONS
                && ctx.request().getHeader(HttpHeaders.ACCESS_CONTROL_REQUEST_METHOD) != null) {
            // a preflight carries no credentials: answer it before the token check
            ctx.response().setStatusCode(204)
                    .putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_METHODS, "GET, POST")
                    .putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type")
                    .putHeader(HttpHeaders.ACCESS_CONTROL_MAX_AGE, "600")
                    .end();
            return;
        }
        ctx.next();
    }

    private void authenticate(RoutingContext ctx) {
        if (tokenDigest == null) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
        String presented = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).strip() : null;
        // digests have one length, so the comparison time says nothing about the token
        if (presented == null || !MessageDigest.isEqual(sha256(presented), tokenDigest)) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"tcpulse\"");
            ApiServer.error(ctx, 401, "unauthorized", presented == null
                    ? "this agent requires an Authorization: Bearer <token> header (http.tokenFile)"
                    : "the bearer token does not match");
            return;
        }
        ctx.next();
    }

    /** A browser page elsewhere may send a POST without a preflight: refuse foreign origins. */
    private void crossSiteWrites(RoutingContext ctx) {
        HttpMethod m = ctx.request().method();
        String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
        if (m == HttpMethod.GET || m == HttpMethod.HEAD || origin == null
                || corsOrigins.contains(origin.toLowerCase(Locale.ROOT)) || sameOrigin(origin, ctx.request())) {
            ctx.next();
            return;
        }
        ApiServer.error(ctx, 403, "forbidden", "cross-origin " + m + " from " + origin
                + " refused (list it in http.corsOrigins to allow it)");
    }

    // ---- helpers ----

    private boolean sameOrigin(String origin, HttpServerRequest req) {
        String hostHeader = req.getHeader(HttpHeaders.HOST);
        return hostHeader != null && origin.equalsIgnoreCase(scheme() + "://" + hostHeader);
    }

    private static String clientOf(HttpServerRequest req) {
        return req.remoteAddress() == null ? "unknown" : req.remoteAddress().hostAddress();
    }

    /** "host:port", "[v6]:port" or "host" -> host, without brackets. */
    static String hostPart(String hostHeader) {
        String h = hostHeader.strip();
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(1, end);
        }
        int colon = h.lastIndexOf(':');
        return colon < 0 ? h : h.substring(0, colon);
    }

    /** localhost names and loopback literals; never resolves anything. */
    static boolean isLocalName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.equals("localhost") || n.endsWith(".localhost")) return true;
        if (n.equals("::1") || n.equals("0:0:0:0:0:0:0:1")) return true;
        return n.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    }

    /** True when every address the host names is a loopback one (0.0.0.0 and :: are not). */
    static boolean isLoopback(String host) throws Config.ConfigException {
        if (host == null || host.isBlank()) return false;
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            for (InetAddress a : all) if (!a.isLoopbackAddress()) return false;
            return all.length > 0;
        } catch (UnknownHostException e) {
            throw new Config.ConfigException("listen host " + host + " does not resolve: " + e.getMessage());
        }
    }

    private static String readToken(Path file) throws Config.ConfigException {
        String token;
        try {
            token = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new Config.ConfigException("http.tokenFile " + file + " cannot be read: " + e);
        }
        if (token.length() < MIN_TOKEN_LENGTH) {
            throw new Config.ConfigException("http.tokenFile " + file + ": the token must be at least "
                    + MIN_TOKEN_LENGTH + " characters, got " + token.length() + " (e.g. openssl rand -hex 32)");
        }
        if (!TOKEN.matcher(token).matches()) {
            throw new Config.ConfigException("http.tokenFile " + file + ": the token may hold only letters, digits"
                    + " and -._~+/ (one line, like openssl rand -hex 32 prints)");
        }
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (perms.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.log(System.Logger.Level.WARNING, "http.tokenFile {0} is readable by every user: chmod 600 it", file);
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // not a POSIX file system: nothing to advise
        }
        return token;
    }

    /** The file's SHA-256; refused when it cannot be read. */
    private static byte[] fileDigest(String name, String file) throws Config.ConfigException {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(Path.of(file)));
        } catch (IOException | RuntimeException e) {
            throw new Config.ConfigException(name + " " + file + " is not readable");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /**
     * One token bucket per client address: `perSecond` tokens a second, as many in a
     * burst. Idle buckets are forgotten once there are too many: a full bucket holds no
     * state worth keeping.
     */
    static final class RateLimiter {
        final int perSecond;
        private final LongSupplier nanoTime;
        private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

        private static final class Bucket {
            double tokens;
            long lastNanos;
        }

        RateLimiter(int perSecond, LongSupplier nanoTime) {
            this.perSecond = perSecond;
            this.nanoTime = nanoTime;
        }

        boolean tryAcquire(String client) {
            long now = nanoTime.getAsLong();
            if (buckets.size() >= MAX_TRACKED_CLIENTS) forgetFull(now);
            boolean[] granted = new boolean[1];
            buckets.compute(client, (k, b) -> {
                if (b == null) {
                    b = new Bucket();
                    b.tokens = perSecond;
                } else {
                    b.tokens = Math.min(perSecond, b.tokens + (now - b.lastNanos) * (perSecond / 1e9));
                }
                b.lastNanos = now;
                if (b.tokens >= 1) {
                    b.tokens -= 1;
                    granted[0] = true;
                }
                return b;
            });
            return granted[0];
        }

        /** A bucket untouched for a second is full again: dropping it changes nothing. */
        private void forgetFull(long now) {
            buckets.values().removeIf(b -> now - b.lastNanos > 1_000_000_000L);
        }

        int tracked() { return buckets.size(); }
    }
}
