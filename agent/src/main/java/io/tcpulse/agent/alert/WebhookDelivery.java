package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.AlertsConfig;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends what the outbox holds, per receiver, in order, one request at a time, with the
 * JDK's HTTP client (its own threads: nothing here runs on a Vert.x event loop).
 *
 * Outcomes: 2xx delivered (the file is deleted); a connection error, a timeout, 5xx, 408
 * or 429 failed and is retried for as long as it takes, after an exponential backoff
 * (initialBackoff doubling up to maxBackoff, "equal jitter": a random point in its upper
 * half; Retry-After honoured); any other status (4xx, 3xx) rejected, retried after the
 * backoff, and dropped after clientErrorAttempts such answers, with a log line.
 *
 * Bounded (issue 11): each receiver's outbox holds at most maxPending notifications and
 * maxPendingBytes; past either the oldest resolved notifications go first, then the oldest
 * firing ones. Notifications older than maxAge go too, and unreadable files are moved to
 * the quarantine directory. Each is counted by reason ({@link #DROP_REASONS}) and logged at
 * most once a minute. Only the entry being sent has its body in memory; the answer is read
 * up to maxResponseBytes and the whole request ends within the timeout.
 */
public final class WebhookDelivery implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(WebhookDelivery.class.getName());
    public static final String SIGNATURE_HEADER = "X-Tcpulse-Signature";
    public static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
    public static final List<String> OUTCOMES = List.of("delivered", "failed", "rejected", "dropped");
    /** Why a notification was given up on without a 4xx: the outbox bound, its age, an unreadable file. */
    public static final List<String> DROP_REASONS = List.of("full", "max_age", "corrupt");
    static final long DROP_LOG_MILLIS = 60_000;

    private final AlertsConfig.Delivery settings;
    private final Outbox outbox;
    private final Map<String, Worker> workers = new LinkedHashMap<>();
    private final ScheduledThreadPoolExecutor scheduler;
    private final ExecutorService httpThreads;
    private final HttpClient http;
    private volatile boolean closed;

    WebhookDelivery(List<AlertsConfig.Receiver> receivers, AlertsConfig.Delivery settings, Outbox outbox) {
        this(receivers, settings, outbox, null);
    }

    /** previous: the delivery this one replaces on a reload; receivers it had keep their counts. */
    WebhookDelivery(List<AlertsConfig.Receiver> receivers, AlertsConfig.Delivery settings, Outbox outbox,
                    WebhookDelivery previous) {
        this.settings = settings;
        this.outbox = outbox;
        for (AlertsConfig.Receiver r : receivers) {
            Worker w = new Worker(r);
            Worker before = previous == null ? null : previous.workers.get(r.name());
            if (before != null) {
                for (int i = 0; i < w.outcomes.length; i++) w.outcomes[i].set(before.outcomes[i].get());
                for (int i = 0; i < w.drops.length; i++) w.drops[i].set(before.drops[i].get());
            }
            workers.put(r.name(), w);
        }
        this.scheduler = new ScheduledThreadPoolExecutor(1, daemon("tcpulse-webhooks"));
        scheduler.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // pending retries wait for the next run
        scheduler.setRemoveOnCancelPolicy(true);
        this.httpThreads = Executors.newCachedThreadPool(daemon("tcpulse-webhook-http"));
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.timeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(httpThreads)
                .build();
    }

    /** Picks up what an earlier run left in the outbox and starts sending. */
    void start() throws IOException {
        start("an earlier run");
    }

    /** leftBy: who left what the outbox holds ("an earlier run", "before the reload"), for the log. */
    void start(String leftBy) throws IOException {
        for (String name : outbox.receivers()) {
            if (!workers.containsKey(name) && !outbox.pending(name).isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "the outbox holds notifications for receiver \"" + name
                        + "\", which is no longer configured; they stay in " + outbox.dir().resolve(name));
            }
        }
        for (Worker w : workers.values()) {
            Outbox.Loaded loaded = outbox.pending(w.receiver.name(), settings.maxPending());
            List<Outbox.Entry> left = loaded.kept();
            if (!left.isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "{0} notification(s) for receiver {1} left from {2}",
                        left.size(), w.receiver.name(), leftBy);
            }
            if (!loaded.dropped().isEmpty()) {
                w.drops[0].addAndGet(loaded.dropped().size());
                LOG.log(System.Logger.Level.WARNING, "receiver {0}: {1} notification(s) left from {2} dropped unsent, past"
                        + " alerts.delivery.maxPending {3} (oldest resolved first)", w.receiver.name(), loaded.dropped().size(),
                        leftBy, settings.maxPending());
                // unlinking 190,000 files of one directory takes minutes on a busy disk: not on the way of delivery
                httpThreads.execute(() -> {
                    for (Path f : loaded.dropped()) {
                        if (closed) return;
                        try {
                            Files.deleteIfExists(f);
                        } catch (IOException io) {
                            LOG.log(System.Logger.Level.ERROR, "cannot delete " + f, io);
                        }
                    }
                });
            }
            w.pending.addAndGet(left.size());
            run(() -> {
                left.forEach(w::enqueue);
                w.bound();
                w.pump();
            });
        }
        scheduler.scheduleWithFixedDelay(() -> workers.values().forEach(Worker::expire), 1, 1, TimeUnit.MINUTES);
    }

    /** Queues an entry already on disk. */
    void offer(Outbox.Entry e) {
        Worker w = workers.get(e.receiver());
        if (w == null) return;
        w.pending.incrementAndGet();
        Outbox.Entry light = e.withoutBody(); // read again when sent
        run(() -> {
            w.enqueue(light);
            w.bound();
            w.pump();
        });
    }

    List<String> receivers() { return List.copyOf(workers.keySet()); }

    /** receiver -> outcome -> count, every outcome present. */
    public Map<String, Map<String, Long>> counts() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        workers.forEach((name, w) -> {
            Map<String, Long> m = new LinkedHashMap<>();
            for (int i = 0; i < OUTCOMES.size(); i++) m.put(OUTCOMES.get(i), w.outcomes[i].get());
            out.put(name, Collections.unmodifiableMap(m));
        });
        return out;
    }

    /** receiver -> reason -> notifications dropped unsent, every reason present. */
    public Map<String, Map<String, Long>> dropped() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        workers.forEach((name, w) -> {
            Map<String, Long> m = new LinkedHashMap<>();
            for (int i = 0; i < DROP_REASONS.size(); i++) m.put(DROP_REASONS.get(i), w.drops[i].get());
            out.put(name, Collections.unmodifiableMap(m));
        });
        return out;
    }

    /** receiver -> bytes of the notifications not yet delivered. */
    public Map<String, Long> pendingBytes() {
        Map<String, Long> out = new LinkedHashMap<>();
        workers.forEach((name, w) -> out.put(name, w.bytes.get()));
        return out;
    }

    /** receiver -> notifications not yet delivered. */
    public Map<String, Integer> pending() {
        Map<String, Integer> out = new LinkedHashMap<>();
        workers.forEach((name, w) -> out.put(name, w.pending.get()));
        return out;
    }

    /** Stops sending; whatever is not delivered stays in the outbox for the next run. */
    @Override
    public void close() {
        closed = true;
        scheduler.shutdown(); // lets a file being deleted or rewritten finish: no interrupt mid-fsync
        try {
            if (!scheduler.awaitTermination(5, TimeUnit.SECONDS)) scheduler.shutdownNow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        httpThreads.shutdownNow(); // requests in flight are abandoned; their files stay
    }

    /** "sha256=" + hex HMAC-SHA256 of body under secret: the X-Tcpulse-Signature value. */
    public static String signature(String secret, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private void run(Runnable r) {
        if (closed) return;
        try {
            scheduler.execute(r);
        } catch (RejectedExecutionException ignored) {
            // closing: the entry stays on disk
        }
    }

    /** A client like the shared one that trusts only the receiver's tlsCa (checked when the config was read). */
    private HttpClient clientTrusting(AlertsConfig.Receiver r) {
        try {
            return HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(r.timeout() != null ? r.timeout() : settings.timeout())
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .executor(httpThreads)
                    .sslContext(io.tcpulse.agent.config.TlsTrust.context(r.tlsCa()))
                    .build();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("receiver " + r.name() + ": its tlsCaFile cannot be used: " + e.getMessage(), e);
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** One receiver's queue; everything but the counters is touched on the scheduler thread only. */
    private final class Worker {
        final AlertsConfig.Receiver receiver;
        final URI uri;
        /** By sequence number: the delivery order. Entries carry no body (read when sent). */
        final java.util.TreeMap<Long, Outbox.Entry> queue = new java.util.TreeMap<>();
        /** The same entries by kind, oldest first, for the bound; entries no longer queued are skipped. */
        final ArrayDeque<Outbox.Entry> resolvedOrder = new ArrayDeque<>(), firingOrder = new ArrayDeque<>();
        final AtomicLong[] outcomes = new AtomicLong[OUTCOMES.size()];
        final AtomicLong[] drops = new AtomicLong[DROP_REASONS.size()];
        final AtomicInteger pending = new AtomicInteger();
        final AtomicLong bytes = new AtomicLong();
        final long[] dropsLogged = new long[DROP_REASONS.size()];
        long lastDropLog = Long.MIN_VALUE / 2;
        Outbox.Entry inFlight;
        int failures; // consecutive, for the backoff
        ScheduledFuture<?> retry;

        Worker(AlertsConfig.Receiver receiver) {
            this.receiver = receiver;
            this.uri = URI.create(receiver.url());
            for (int i = 0; i < outcomes.length; i++) outcomes[i] = new AtomicLong();
            for (int i = 0; i < drops.length; i++) drops[i] = new AtomicLong();
        }

        void enqueue(Outbox.Entry e) {
            queue.put(e.seq(), e);
            (e.resolved() ? resolvedOrder : firingOrder).addLast(e);
            bytes.addAndGet(e.bytes());
        }

        /** Over maxPending or maxPendingBytes: the oldest resolved go first, then the oldest firing. */
        void bound() {
            expire();
            AlertsConfig.Delivery d = settings;
            while (queue.size() > d.maxPending() || bytes.get() > d.maxPendingBytes()) {
                Outbox.Entry victim = oldest(resolvedOrder);
                if (victim == null) victim = oldest(firingOrder);
                if (victim == null) break; // only the one in flight is left
                discard(victim, 0);
            }
            compact(resolvedOrder);
            compact(firingOrder);
        }

        /** Drops what is older than maxAge, oldest first (sequence order is creation order). */
        void expire() {
            java.time.Instant limit = java.time.Instant.now().minus(settings.maxAge());
            for (var it = queue.values().iterator(); it.hasNext(); ) {
                Outbox.Entry e = it.next();
                if (!e.createdAt().isBefore(limit)) break;
                if (e == inFlight) continue;
                it.remove();
                forget(e, 1);
            }
        }

        private Outbox.Entry oldest(ArrayDeque<Outbox.Entry> order) {
            for (var it = order.iterator(); it.hasNext(); ) {
                Outbox.Entry e = it.next();
                if (queue.get(e.seq()) != e) {
                    it.remove(); // delivered or dropped already
                    continue;
                }
                if (e.seq() == (inFlight == null ? -1 : inFlight.seq())) continue;
                return e;
            }
            return null;
        }

        /** Keeps the order queues from filling with entries no longer queued. */
        private void compact(ArrayDeque<Outbox.Entry> order) {
            if (order.size() > 2 * queue.size() + 64) order.removeIf(e -> !queue.containsKey(e.seq()));
        }

        /** Given up on for reason (index in DROP_REASONS): off the disk, out of the queue, counted. */
        private void discard(Outbox.Entry e, int reason) {
            queue.remove(e.seq());
            forget(e, reason);
        }

        private void forget(Outbox.Entry e, int reason) {
            if (reason != 2) {
                try {
                    outbox.discard(e);
                } catch (IOException io) {
                    LOG.log(System.Logger.Level.ERROR, "cannot delete " + e.file(), io);
                }
            }
            pending.decrementAndGet();
            bytes.addAndGet(-e.bytes());
            drops[reason].incrementAndGet();
            logDrops();
        }

        /** At most one line a minute with what was dropped since the last one. */
        private void logDrops() {
            long now = System.currentTimeMillis();
            if (now - lastDropLog < DROP_LOG_MILLIS) return;
            lastDropLog = now;
            StringBuilder what = new StringBuilder();
            for (int i = 0; i < drops.length; i++) {
                long n = drops[i].get() - dropsLogged[i];
                dropsLogged[i] = drops[i].get();
                if (n > 0) what.append(what.length() == 0 ? "" : ", ").append(n).append(' ').append(DROP_REASONS.get(i));
            }
            LOG.log(System.Logger.Level.WARNING, "receiver {0}: notifications dropped unsent ({1}); {2} pending, {3} bytes"
                            + " (bounds: alerts.delivery.maxPending {4}, maxPendingBytes {5}, maxAge {6})", receiver.name(), what,
                    queue.size(), bytes.get(), settings.maxPending(), settings.maxPendingBytes(), settings.maxAge());
        }

        void pump() {
            while (!closed && inFlight == null && !queue.isEmpty() && retry == null) { // retry: waiting out a backoff
                Outbox.Entry head = queue.firstEntry().getValue();
                Outbox.Entry e;
                try {
                    e = head.body() != null ? head : outbox.load(head);
                } catch (Outbox.Corrupt bad) {
                    try {
                        outbox.quarantine(head, bad.getMessage());
                    } catch (IOException io) {
                        LOG.log(System.Logger.Level.ERROR, "cannot move " + head.file() + " aside", io);
                    }
                    discard(head, 2);
                    continue;
                } catch (java.nio.file.NoSuchFileException gone) {
                    queue.remove(head.seq());
                    pending.decrementAndGet();
                    bytes.addAndGet(-head.bytes());
                    continue;
                } catch (IOException io) {
                    LOG.log(System.Logger.Level.ERROR, "cannot read " + head.file() + "; retried", io);
                    failures++;
                    retry = scheduler.schedule(() -> {
                        retry = null;
                        pump();
                    }, backoff(failures, null).toMillis(), TimeUnit.MILLISECONDS);
                    return;
                }
                send(head, e);
            }
        }

        private void send(Outbox.Entry queued, Outbox.Entry e) {
            inFlight = queued;
            LimitedBody body = new LimitedBody(settings.maxResponseBytes());
            try {
                client().sendAsync(request(e), info -> body)
                        .orTimeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS) // the whole exchange, on JDK 17 too
                        .whenComplete((resp, err) -> {
                            if (err != null) body.cancel();
                            run(() -> done(e, resp, err));
                        });
            } catch (RuntimeException ex) { // e.g. the executor is shutting down
                inFlight = null;
                if (!closed) done(e, null, ex);
            }
        }

        private HttpRequest request(Outbox.Entry e) {
            byte[] body = e.body().getBytes(StandardCharsets.UTF_8);
            HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                    .timeout(receiver.timeout() != null ? receiver.timeout() : settings.timeout())
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "tcpulse")
                    .header(IDEMPOTENCY_HEADER, e.id());
            if (receiver.secret() != null) b.header(SIGNATURE_HEADER, signature(receiver.secret(), body));
            receiver.headers().forEach(b::header);
            return b.POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        }

        private void done(Outbox.Entry e, HttpResponse<String> resp, Throwable err) {
            inFlight = null;
            if (closed) return;
            if (queue.get(e.seq()) == null) { // dropped meanwhile (reload): nothing to record
                pump();
                return;
            }
            int status = resp == null ? 0 : resp.statusCode();
            if (err == null && status >= 200 && status < 300) {
                if (failures > 0) {
                    LOG.log(System.Logger.Level.INFO, "receiver {0} reachable again after {1} failed attempt(s)",
                            receiver.name(), failures);
                }
                failures = 0;
                finish(e, 0);
                pump();
                return;
            }
            boolean transient_ = err != null || status >= 500 || status == 408 || status == 429;
            failures++;
            Duration delay = backoff(failures, resp);
            if (transient_) {
                outcomes[1].incrementAndGet();
                String why = err != null ? err.toString() : "HTTP " + status;
                LOG.log(failures == 1 ? System.Logger.Level.WARNING : System.Logger.Level.DEBUG,
                        "receiver {0} ({1}) failed: {2}; notification {3} retried in {4} ms ({5} pending)",
                        receiver.name(), receiver.redactedUrl(), why, e.id(), delay.toMillis(), queue.size());
            } else {
                outcomes[2].incrementAndGet();
                String body = resp.body() == null ? "" : resp.body();
                if (body.length() > 200) body = body.substring(0, 200) + "…";
                Outbox.Entry next;
                try {
                    next = outbox.attempted(e);
                } catch (IOException io) {
                    LOG.log(System.Logger.Level.ERROR, "cannot record the attempt in " + e.file(), io);
                    next = new Outbox.Entry(e.file(), e.receiver(), e.seq(), e.id(), e.attempts() + 1, e.createdAt(), e.body(),
                            e.resolved(), e.bytes());
                }
                if (next.attempts() >= settings.clientErrorAttempts()) {
                    LOG.log(System.Logger.Level.ERROR, "receiver {0} ({1}) rejected notification {2} with HTTP {3} {4} times:"
                                    + " dropped. Its answer: {5}", receiver.name(), receiver.redactedUrl(), e.id(), status,
                            next.attempts(), body);
                    failures = 0;
                    finish(next, 3);
                    pump();
                    return;
                }
                LOG.log(System.Logger.Level.WARNING, "receiver {0} ({1}) rejected notification {2} with HTTP {3} ({4} of {5}"
                                + " tries); retried in {6} ms. Its answer: {7}", receiver.name(), receiver.redactedUrl(), e.id(),
                        status, next.attempts(), settings.clientErrorAttempts(), delay.toMillis(), body);
                Outbox.Entry old = queue.put(next.seq(), next); // keeps its body: it is the next one sent
                bytes.addAndGet(next.bytes() - (old == null ? 0 : old.bytes()));
                replaceIn(next.resolved() ? resolvedOrder : firingOrder, next);
            }
            retry = scheduler.schedule(() -> {
                retry = null;
                pump();
            }, delay.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void replaceIn(ArrayDeque<Outbox.Entry> order, Outbox.Entry next) {
            order.removeIf(x -> x.seq() == next.seq());
            order.addFirst(next); // the oldest still: the queue's head
        }

        /** Delivered (outcome 0) or dropped (3): off the disk and out of the queue. */
        private void finish(Outbox.Entry e, int outcome) {
            try {
                outbox.remove(e);
            } catch (IOException io) {
                LOG.log(System.Logger.Level.ERROR, "cannot delete " + e.file() + ": it will be sent again after a restart"
                        + " (same idempotency key)", io);
            }
            Outbox.Entry was = queue.remove(e.seq());
            bytes.addAndGet(-(was == null ? e.bytes() : was.bytes()));
            pending.decrementAndGet();
            outcomes[outcome].incrementAndGet();
        }

        private Duration backoff(int attempt, HttpResponse<String> resp) {
            long base = settings.initialBackoff().toMillis();
            long max = settings.maxBackoff().toMillis();
            long d = (long) Math.min(max, base * Math.pow(2, Math.min(attempt - 1, 60)));
            long jittered = d / 2 + (long) (ThreadLocalRandom.current().nextDouble() * (d - d / 2));
            if (resp != null) {
                try {
                    long after = Long.parseLong(resp.headers().firstValue("Retry-After").orElse("").trim()) * 1000;
                    jittered = Math.max(jittered, Math.min(after, max));
                } catch (NumberFormatException ignored) {
                    // absent or an HTTP date: the backoff stands
                }
            }
            return Duration.ofMillis(Math.max(1, jittered));
        }

        /** The shared client, or (made at first use) one that trusts only the receiver's tlsCa. */
        private HttpClient client() {
            if (receiver.tlsCa() == null) return http;
            if (trusting == null) trusting = clientTrusting(receiver);
            return trusting;
        }

        private HttpClient trusting;
    }

    /**
     * A receiver's answer as text, read up to a limit: the rest is not read (the exchange is
     * cancelled), so a receiver cannot fill the heap with its answer.
     */
    static final class LimitedBody implements HttpResponse.BodySubscriber<String> {
        private final int limit;
        private final java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        private final java.util.concurrent.CompletableFuture<String> result = new java.util.concurrent.CompletableFuture<>();
        private volatile java.util.concurrent.Flow.Subscription subscription;

        LimitedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public java.util.concurrent.CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<java.nio.ByteBuffer> items) {
            for (java.nio.ByteBuffer b : items) {
                int room = limit - data.size();
                int n = Math.min(room, b.remaining());
                byte[] chunk = new byte[n];
                b.get(chunk);
                data.write(chunk, 0, n);
            }
            if (data.size() >= limit) {
                complete();
                cancel();
            }
        }

        @Override
        public void onError(Throwable t) {
            if (!result.isDone()) result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            complete();
        }

        private void complete() {
            if (!result.isDone()) result.complete(data.toString(StandardCharsets.UTF_8));
        }

        void cancel() {
            java.util.concurrent.Flow.Subscription s = subscription;
            if (s != null) s.cancel();
        }
    }
}
