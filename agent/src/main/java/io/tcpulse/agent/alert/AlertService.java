package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Alerting as the agent runs it: the engine evaluated on its own thread
 * ("tcpulse-alerts") at the evaluation interval, notifications written to the outbox and
 * sent by {@link WebhookDelivery}, state kept in the state directory, and the HTTP view
 * ({@link AlertsApi}). Nothing here runs on a Vert.x event loop. A reload switches rules,
 * receivers and delivery settings on the evaluation thread, between two evaluations.
 */
public final class AlertService implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AlertService.class.getName());

    // what a reload replaces: written on the evaluation thread only (see reload), read anywhere
    private volatile AlertsConfig config;
    private volatile Outbox outbox;              // null: no receivers yet
    private volatile WebhookDelivery delivery;   // null: no receivers
    private volatile Path stateDir;              // null: nothing persisted
    private final SnapshotSource source;
    private final boolean probeExpected;
    private final AlertEngine engine;
    private final ScheduledExecutorService evaluator;
    private final AlertsApi api;
    private volatile String ownUrl = "http://localhost:9470/"; // the agent's own, when alerts.externalUrl is not set
    private volatile String externalUrl = ownUrl;
    private boolean started, deliveryStarted;
    private ScheduledFuture<?> schedule;
    private final InstantSource clock;
    // evaluation thread only: when each firing alert (by fingerprint) last went to the Alertmanagers
    private final Map<String, java.time.Instant> sentToAlertmanagers = new java.util.HashMap<>();

    private AlertService(AlertsConfig config, SnapshotSource source, boolean probeExpected, Path stateDir,
                         InstantSource clock, Map<String, String> externalLabels) throws IOException {
        this.config = config;
        this.source = source;
        this.probeExpected = probeExpected;
        this.stateDir = stateDir;
        this.clock = clock;
        AlertStore store = null;
        if (stateDir != null) {
            Files.createDirectories(stateDir);
            store = new AlertStore(stateDir.resolve("alerts.json"));
        }
        if (!config.receivers().isEmpty()) {
            outbox = new Outbox(stateDir.resolve("outbox"));
            delivery = new WebhookDelivery(config.receivers(), config.delivery(), outbox);
        } else {
            outbox = null;
            delivery = null;
        }
        engine = new AlertEngine(config, BuiltinRules.create(config, probeExpected), clock, externalLabels,
                this::deliver, store);
        if (store != null) {
            AlertStore.Loaded loaded = store.load();
            engine.restore(loaded.firing(), loaded.recent());
            if (!loaded.firing().isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "{0} alert(s) still firing from the last run, not announced again",
                        loaded.firing().size());
            }
        }
        evaluator = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tcpulse-alerts");
            t.setDaemon(true);
            return t;
        });
        api = new AlertsApi(this);
    }

    /**
     * The agent's alerting. The state directory is resolved (and must be writable) only
     * when there is a receiver or stateDir is set: without receivers, alerts live in memory.
     */
    public static AlertService create(Config config, SnapshotSource source) throws Config.ConfigException, IOException {
        AlertsConfig a = config.alerts();
        Path dir = a.receivers().isEmpty() && config.stateDir() == null ? null : StateDir.resolve(config.stateDir());
        if (dir != null) LOG.log(System.Logger.Level.INFO, "alert state and webhook outbox in {0}", dir);
        return new AlertService(a, source, config.probeEnabled(), dir, InstantSource.system(),
                Map.of("host", hostname()));
    }

    /** For tests: any clock, state directory and labels. */
    static AlertService create(AlertsConfig config, SnapshotSource source, Path stateDir, InstantSource clock,
                               Map<String, String> externalLabels) throws IOException {
        return new AlertService(config, source, true, stateDir, clock, externalLabels);
    }

    /**
     * Starts delivering what an earlier run left and evaluating.
     *
     * @param externalUrl the agent's own URL ("http://host:9470/"), put in payloads
     */
    public synchronized void start(String externalUrl) throws IOException {
        if (started) return;
        started = true;
        startDelivery(externalUrl);
        long every = config.evaluationInterval().toMillis();
        schedule = evaluator.scheduleWithFixedDelay(this::evaluateOnce, 0, every, TimeUnit.MILLISECONDS);
        LOG.log(System.Logger.Level.INFO, "alerting: {0} rule(s) every {1,number,#} ms, receivers {2}", engine.rules().size(),
                every, config.receivers());
    }

    /** Delivery only (tests evaluate by hand): what an earlier run left goes out first. */
    synchronized void startDelivery(String externalUrl) throws IOException {
        ownUrl = withSlash(externalUrl);
        this.externalUrl = config.externalUrl() != null ? withSlash(config.externalUrl()) : ownUrl;
        deliveryStarted = true;
        if (delivery != null) delivery.start();
    }

    /** A reload checked and made ready: what could fail has happened ({@link #prepareReload}). */
    public static final class Prepared {
        private final AlertsConfig next;
        private final Path dir;
        private final Outbox box;

        private Prepared(AlertsConfig next, Path dir, Outbox box) {
            this.next = next;
            this.dir = dir;
            this.box = box;
        }
    }

    /**
     * What a reload to next needs that can fail, done first so that a failure changes
     * nothing: the state directory when alerts lived in memory so far and now need one
     * (stateDirSetting: the new config's stateDir), and the outbox.
     */
    public synchronized Prepared prepareReload(AlertsConfig next, String stateDirSetting) throws Config.ConfigException, IOException {
        Path dir = stateDir;
        if (dir == null && (!next.receivers().isEmpty() || stateDirSetting != null)) {
            dir = StateDir.resolve(stateDirSetting);
            Files.createDirectories(dir);
        }
        Outbox box = outbox;
        if (box == null && !next.receivers().isEmpty()) box = new Outbox(dir.resolve("outbox"));
        return new Prepared(next, dir, box);
    }

    /** {@link #prepareReload} and {@link #reload(Prepared)} in one. */
    public void reload(AlertsConfig next, String stateDirSetting) throws Config.ConfigException, IOException {
        reload(prepareReload(next, stateDirSetting));
    }

    /**
     * Runs with new rules, receivers and delivery settings. The switch runs on the
     * evaluation thread, between two evaluations: a notification goes wholly to the old
     * receivers or wholly to the new. Pending and firing alerts carry over; the outbox of a
     * receiver that is gone is emptied. Returns once the new settings are in force.
     */
    public synchronized void reload(Prepared p) {
        java.util.concurrent.Future<?> done;
        try {
            done = evaluator.submit(() -> apply(p.next, p.dir, p.box));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new IllegalStateException("alerting is shut down", e);
        }
        try {
            done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the new alert settings were applied", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The switch, on the evaluation thread. */
    private void apply(AlertsConfig next, Path dir, Outbox box) {
        AlertsConfig old = config;
        if (stateDir == null && dir != null) LOG.log(System.Logger.Level.INFO, "alert state and webhook outbox in {0}", dir);
        AlertStore store = dir == null ? null : new AlertStore(dir.resolve("alerts.json"));
        if (!old.receivers().equals(next.receivers()) || !old.delivery().equals(next.delivery()) || box != outbox) {
            WebhookDelivery before = delivery;
            if (before != null) before.close(); // what it has not delivered stays on disk for the next one
            Set<String> kept = new HashSet<>();
            next.receivers().forEach(r -> kept.add(r.name()));
            for (AlertsConfig.Receiver r : old.receivers()) {
                if (!kept.contains(r.name())) drop(box, r.name());
            }
            WebhookDelivery after = next.receivers().isEmpty() ? null
                    : new WebhookDelivery(next.receivers(), next.delivery(), box, before);
            delivery = after;
            sentToAlertmanagers.clear(); // a new or changed Alertmanager hears of what fires at the next evaluation
            if (after != null && deliveryStarted) {
                try {
                    after.start("before the reload");
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.ERROR, "cannot read the outbox " + box.dir()
                            + ": what it holds waits for the next reload or start", e);
                }
            }
        }
        engine.reconfigure(next, BuiltinRules.create(next, probeExpected, engine.rules()), store);
        config = next;
        stateDir = dir;
        outbox = box;
        externalUrl = next.externalUrl() != null ? withSlash(next.externalUrl()) : ownUrl;
        long every = next.evaluationInterval().toMillis();
        if (started && !old.evaluationInterval().equals(next.evaluationInterval())) {
            schedule.cancel(false); // this very task runs on the evaluation thread: nothing to interrupt
            schedule = evaluator.scheduleWithFixedDelay(this::evaluateOnce, every, every, TimeUnit.MILLISECONDS);
        }
        LOG.log(System.Logger.Level.INFO, "alerting reloaded: {0} rule(s) every {1,number,#} ms, receivers {2}",
                engine.rules().size(), every, next.receivers());
    }

    /** A receiver removed from the config keeps nothing pending. */
    private static void drop(Outbox box, String receiver) {
        try {
            int dropped = box.drop(receiver);
            LOG.log(dropped > 0 ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    "receiver {0} was removed from the config: {1} pending notification(s) for it dropped", receiver, dropped);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "receiver " + receiver + " was removed from the config, but its outbox "
                    + box.dir().resolve(receiver) + " cannot be emptied", e);
        }
    }

    /** One evaluation now, on the caller's thread (tests; the scheduler calls it too). */
    void evaluateOnce() {
        try {
            engine.evaluate(source.current());
            resendToAlertmanagers();
        } catch (Throwable t) { // the schedule must survive anything
            LOG.log(System.Logger.Level.ERROR, "alert evaluation failed", t);
        }
    }

    private void deliver(Notification n) throws IOException {
        WebhookDelivery d = delivery;
        if (d == null) return;
        for (AlertsConfig.Receiver r : config.receivers()) {
            Outbox.Entry e = outbox.add(r.name(), n.id(), Payloads.render(n, r, externalUrl, validFor(config)),
                    Notification.RESOLVED.equals(n.status()));
            d.offer(e);
        }
    }

    /** A firing alert's endsAt at an Alertmanager: four resends ahead, as Prometheus does. */
    private static java.time.Duration validFor(AlertsConfig c) {
        java.time.Duration step = c.resendInterval().compareTo(c.evaluationInterval()) >= 0
                ? c.resendInterval() : c.evaluationInterval();
        return step.multipliedBy(4);
    }

    /**
     * Every resendInterval, each firing alert goes to every Alertmanager again with an endsAt
     * ahead of it (Alertmanager resolves an alert nobody re-sends), as Prometheus does. An
     * Alertmanager that has notifications waiting is skipped: what it has queued goes first,
     * and the next evaluation tries again.
     */
    private void resendToAlertmanagers() throws IOException {
        AlertsConfig c = config;
        WebhookDelivery d = delivery;
        List<AlertsConfig.Receiver> ams = c.alertmanagers();
        if (d == null || ams.isEmpty()) {
            sentToAlertmanagers.clear();
            return;
        }
        java.time.Instant now = clock.instant();
        Map<String, Integer> pending = d.pending();
        Set<String> firing = new HashSet<>();
        for (AlertEngine.AlertView a : engine.view().firing()) {
            firing.add(a.fingerprint());
            java.time.Instant last = sentToAlertmanagers.get(a.fingerprint());
            if (last == null && now.equals(a.lastNotified())) { // announced by this very evaluation
                sentToAlertmanagers.put(a.fingerprint(), now);
                continue;
            }
            if (last != null && now.isBefore(last.plus(c.resendInterval()))) continue;
            Notification n = new Notification(java.util.UUID.randomUUID().toString(), Notification.FIRING, a.rule(),
                    a.labels(), a.annotations(), a.labels(), a.since(), null, a.fingerprint(), a.value(), true, now);
            boolean all = true;
            for (AlertsConfig.Receiver r : ams) {
                if (pending.getOrDefault(r.name(), 0) > 0) {
                    all = false;
                    continue;
                }
                d.offer(outbox.add(r.name(), n.id(), Payloads.render(n, r, externalUrl, validFor(c))));
            }
            if (all) sentToAlertmanagers.put(a.fingerprint(), now);
        }
        sentToAlertmanagers.keySet().retainAll(firing);
    }

    public AlertsApi api() { return api; }

    public AlertEngine engine() { return engine; }

    public AlertsConfig config() { return config; }

    /** null when there are no receivers. */
    public WebhookDelivery delivery() { return delivery; }

    /** Where the outbox and alert state live; null while alerts live in memory. */
    public Path stateDir() { return stateDir; }

    String externalUrl() { return externalUrl; }

    @Override
    public void close() {
        evaluator.shutdown(); // an evaluation writing to the outbox finishes first
        try {
            if (!evaluator.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "alert evaluation did not stop within 5 s");
                evaluator.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (delivery != null) delivery.close();
    }

    /** "http://HOST:PORT/" for the agent's listen address; a wildcard address becomes the host name. */
    public static String defaultExternalUrl(boolean tls, String host, int port) {
        String h = host;
        if (h == null || h.isEmpty() || h.equals("0.0.0.0") || h.equals("::") || h.equals("[::]")) h = hostname();
        if (h.contains(":") && !h.startsWith("[")) h = "[" + h + "]";
        return (tls ? "https" : "http") + "://" + h + ":" + port + "/";
    }

    static String hostname() {
        try {
            String h = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!h.isEmpty()) return h;
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        String env = System.getenv("HOSTNAME");
        return env == null || env.isBlank() ? "localhost" : env;
    }

    private static String withSlash(String url) {
        return url.endsWith("/") ? url : url + "/";
    }

    List<String> receiverNames() {
        return config.receivers().stream().map(AlertsConfig.Receiver::name).toList();
    }
}
