package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Alerting as the agent runs it: the engine evaluated on its own thread
 * ("tcpulse-alerts") at the evaluation interval, notifications written to the outbox and
 * sent by {@link WebhookDelivery}, state kept in the state directory, and the HTTP view
 * ({@link AlertsApi}). Nothing here runs on a Vert.x event loop.
 */
public final class AlertService implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(AlertService.class.getName());

    private final AlertsConfig config;
    private final SnapshotSource source;
    private final AlertEngine engine;
    private final Outbox outbox;              // null: no receivers
    private final WebhookDelivery delivery;   // null: no receivers
    private final Path stateDir;              // null: nothing persisted
    private final ScheduledExecutorService evaluator;
    private final AlertsApi api;
    private volatile String externalUrl = "http://localhost:9470/";
    private boolean started;

    private AlertService(AlertsConfig config, SnapshotSource source, boolean probeExpected, Path stateDir,
                         InstantSource clock, Map<String, String> externalLabels) throws IOException {
        this.config = config;
        this.source = source;
        this.stateDir = stateDir;
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
        evaluator.scheduleWithFixedDelay(this::evaluateOnce, 0, every, TimeUnit.MILLISECONDS);
        LOG.log(System.Logger.Level.INFO, "alerting: {0} rule(s) every {1,number,#} ms, receivers {2}", engine.rules().size(),
                every, config.receivers());
    }

    /** Delivery only (tests evaluate by hand): what an earlier run left goes out first. */
    void startDelivery(String externalUrl) throws IOException {
        this.externalUrl = config.externalUrl() != null ? withSlash(config.externalUrl()) : withSlash(externalUrl);
        if (delivery != null) delivery.start();
    }

    /** One evaluation now, on the caller's thread (tests; the scheduler calls it too). */
    void evaluateOnce() {
        try {
            engine.evaluate(source.current());
        } catch (Throwable t) { // the schedule must survive anything
            LOG.log(System.Logger.Level.ERROR, "alert evaluation failed", t);
        }
    }

    private void deliver(Notification n) throws IOException {
        if (delivery == null) return;
        for (AlertsConfig.Receiver r : config.receivers()) {
            Outbox.Entry e = outbox.add(r.name(), n.id(), Payloads.render(n, r, externalUrl));
            delivery.offer(e);
        }
    }

    public AlertsApi api() { return api; }

    public AlertEngine engine() { return engine; }

    public AlertsConfig config() { return config; }

    /** null when there are no receivers. */
    public WebhookDelivery delivery() { return delivery; }

    Path stateDir() { return stateDir; }

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
