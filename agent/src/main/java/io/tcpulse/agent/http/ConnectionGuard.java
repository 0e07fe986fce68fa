package io.tcpulse.agent.http;

import io.tcpulse.agent.host.FileDescriptors;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.ext.web.RoutingContext;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Keeps HTTP clients off the descriptors the probe needs. Every connection costs one
 * descriptor, and the probe needs a few for each walk (a namespace, an iterator) and
 * for each /proc read: a flood of idle clients once took them all and the walk failed
 * with EMFILE. So the server holds at most maxConnections at once (by default what
 * RLIMIT_NOFILE leaves once the descriptors open at start and {@link #FD_RESERVE} more
 * are set aside), closing any connection over it as soon as it is accepted; and a
 * connection that has not sent a whole request head within {@link #HEADER_TIMEOUT_SECONDS}
 * is closed, so silent clients give their place back long before the idle timeout.
 *
 * Connection events run on the server's event loop; the counters are read from anywhere.
 */
final class ConnectionGuard {
    private static final System.Logger LOG = System.getLogger(ConnectionGuard.class.getName());

    /** Descriptors kept for the probe (walks, /proc reads), the state directory and webhooks. */
    static final int FD_RESERVE = 64;
    /**
     * The listening socket's accept queue: clients beyond it wait in the kernel (they retry
     * their SYN) rather than reach the acceptor thread all at once, which takes what waits
     * faster than the event loop can close what is over the cap.
     */
    static final int ACCEPT_BACKLOG = FD_RESERVE / 2;
    /** The automatic cap never goes below this, whatever the limit: the API must stay reachable. */
    static final int MIN_CONNECTIONS = 16;
    /** A new connection must send a complete request head this soon (TLS: after its handshake, bounded alike). */
    static final int HEADER_TIMEOUT_SECONDS = 10;

    /** How the automatic cap came about: RLIMIT_NOFILE, descriptors open at start, the cap. */
    record Budget(long fdLimit, int openAtStart, int automatic) {
        static Budget measure() {
            long limit = FileDescriptors.softLimit();
            int open = FileDescriptors.open();
            int auto;
            if (limit < 0 || open < 0 || limit == Long.MAX_VALUE) auto = Integer.MAX_VALUE; // unknown or unlimited
            else auto = (int) Math.max(MIN_CONNECTIONS, Math.min(Integer.MAX_VALUE, limit - open - FD_RESERVE));
            return new Budget(limit, open, auto);
        }
    }

    private final Vertx vertx;
    private final Supplier<HttpSecurity> security;
    private final Budget budget;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong(), headerTimeouts = new AtomicLong();
    /** Connections closed at once because their client address held limits.perClientConnections; streams refused. */
    private final AtomicLong perClientRefused = new AtomicLong(), streamsRefused = new AtomicLong();
    /* client address -> connections open; event loop only */
    private final Map<String, Integer> byClient = new java.util.HashMap<>();
    /* connections still waiting for their first request head -> their deadline timer; event loop only */
    private final Map<HttpConnection, Long> awaitingHead = new IdentityHashMap<>();

    ConnectionGuard(Vertx vertx, Supplier<HttpSecurity> security, Budget budget) {
        this.vertx = vertx;
        this.security = security;
        this.budget = budget;
        int configured = security.get().maxConnections();
        if (configured > budget.automatic()) {
            LOG.log(System.Logger.Level.WARNING, "http.maxConnections {0} is more than RLIMIT_NOFILE {1} leaves"
                    + " ({2} open at start, {3} kept for the probe): a flood of clients can take the probe''s descriptors",
                    Integer.toString(configured), Long.toString(budget.fdLimit()), Integer.toString(budget.openAtStart()),
                    Integer.toString(FD_RESERVE));
        }
    }

    /** The cap in force: http.maxConnections, or the automatic one. */
    int maxConnections() {
        int configured = security.get().maxConnections();
        return configured > 0 ? configured : budget.automatic();
    }

    Budget budget() { return budget; }

    int open() { return open.get(); }

    /** Connections closed at once because maxConnections were open. */
    long refused() { return refused.get(); }

    /** Connections closed because no complete request head came within HEADER_TIMEOUT_SECONDS. */
    long headerTimeouts() { return headerTimeouts.get(); }

    /** Connections closed at once because their address held limits.perClientConnections. */
    long perClientRefused() { return perClientRefused.get(); }

    /** /api/v1/stream requests answered 503 because limits.maxStreams were open. */
    long streamsRefused() { return streamsRefused.get(); }

    void streamRefused() { streamsRefused.incrementAndGet(); }

    /** Client addresses holding connections now. */
    int clients() { return byClient.size(); }

    void onConnection(HttpConnection conn) {
        if (open.incrementAndGet() > maxConnections()) {
            open.decrementAndGet();
            refused.incrementAndGet();
            conn.close();
            return;
        }
        // one address cannot take every place: others (and a monitor on another address) still get in
        String client = conn.remoteAddress() == null ? "" : conn.remoteAddress().hostAddress();
        int perClient = security.get().limits().perClientConnections();
        int held = byClient.getOrDefault(client, 0);
        if (perClient > 0 && held >= perClient) {
            open.decrementAndGet();
            perClientRefused.incrementAndGet();
            conn.close();
            return;
        }
        byClient.put(client, held + 1);
        long timer = vertx.setTimer(TimeUnit.SECONDS.toMillis(HEADER_TIMEOUT_SECONDS), id -> {
            if (awaitingHead.remove(conn) != null) {
                headerTimeouts.incrementAndGet();
                conn.close();
            }
        });
        awaitingHead.put(conn, timer);
        conn.closeHandler(v -> {
            open.decrementAndGet();
            byClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
            Long t = awaitingHead.remove(conn);
            if (t != null) vertx.cancelTimer(t);
        });
    }

    /** A request head arrived: from now on the idle timeout governs the connection. */
    void onRequest(RoutingContext ctx) {
        HttpConnection conn = ctx.request().connection();
        Long t = conn == null ? null : awaitingHead.remove(conn);
        if (t != null) vertx.cancelTimer(t);
        ctx.next();
    }
}
