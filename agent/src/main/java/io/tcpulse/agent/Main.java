package io.tcpulse.agent;

import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.alert.AlertService;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.http.ApiServer;
import io.tcpulse.agent.http.HttpSecurity;
import io.tcpulse.agent.probe.Probe;
import io.tcpulse.agent.probe.ProbeException;
import io.tcpulse.agent.probe.ProbeLoop;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/** java -jar tcpulse.jar [--listen HOST:PORT] [--config FILE] ... */
public final class Main {
    static {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    }

    private static final Logger LOG = Logger.getLogger(Main.class.getName());

    /**
     * Exit status when collection has been out for probe.maxOutage (EX_TEMPFAIL): systemd's
     * Restart=on-failure starts the agent again. 1 is a start-up failure, 2 a configuration
     * error (not restarted), 3 the JVM's own exit on OutOfMemoryError.
     */
    public static final int EXIT_COLLECTION_OUTAGE = 75;

    /** tcpulse [run|check|bench-pipeline|version|help] [options]: see {@link io.tcpulse.agent.cli.Cli}. */
    public static void main(String[] args) {
        int code = io.tcpulse.agent.cli.Cli.execute(args);
        if (code >= 0) System.exit(code);
        // the agent runs on in its own threads; the shutdown hook stops it
    }

    /**
     * tcpulse run: parses the (canonical) options, starts the agent, installs the shutdown
     * hook and SIGHUP handler. Returns null once it runs, else the exit code: 2 for a
     * configuration error, 1 when it could not start.
     */
    public static Integer startAgent(String[] args) {
        Config config;
        try {
            config = Config.parse(args);
        } catch (Config.ConfigException e) {
            System.err.println("tcpulse: " + e.getMessage());
            return 2;
        }
        // SIGHUP is handled from here on: the JVM's default would end the process, and a
        // reload asked for while the agent starts (the HTTP API answers before start returns)
        // is carried out once it runs
        EarlyReload early = new EarlyReload();
        onSighup(early::signal);
        Agent agent;
        try {
            agent = Agent.start(config);
        } catch (Config.ConfigException e) { // e.g. a non-loopback address without a token
            System.err.println("tcpulse: " + e.getMessage());
            return 2;
        } catch (IllegalStateException | java.io.IOException e) { // the port is taken, the outbox unreadable
            System.err.println("tcpulse: " + e.getMessage());
            return 1;
        } catch (Exception e) {
            System.err.println("tcpulse: cannot start: " + e);
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "tcpulse-shutdown"));
        early.started(agent);
        return null;
    }

    /** SIGHUPs before the agent runs are remembered and carried out once it does. */
    private static final class EarlyReload {
        private Agent agent;
        private boolean pending;

        synchronized void signal() {
            if (agent == null) pending = true;
            else agent.reloadOnSignal();
        }

        void started(Agent a) {
            boolean reload;
            synchronized (this) {
                agent = a;
                reload = pending;
            }
            if (reload) a.reloadOnSignal();
        }
    }

    /**
     * Collection has been out for too long: exit for the service manager to restart the
     * agent. From a thread of its own: the shutdown hooks stop and join the probe thread.
     */
    static void exitForRestart(io.tcpulse.agent.model.ProbeOutage outage) {
        Thread exit = new Thread(() -> {
            LOG.severe("exiting with status " + EXIT_COLLECTION_OUTAGE + " for the service manager to restart tcpulse: "
                    + outage.describe());
            System.exit(EXIT_COLLECTION_OUTAGE);
        }, "tcpulse-outage-exit");
        exit.start();
    }

    /** systemctl reload sends SIGHUP, which would otherwise stop the JVM. */
    private static void onSighup(Runnable action) {
        try {
            sun.misc.SignalHandler old = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> action.run());
            // the JVM keeps a signal ignored when the process started with it ignored (nohup): say so, once
            if (old == sun.misc.SignalHandler.SIG_IGN) {
                LOG.warning("SIGHUP is ignored in this process (started under nohup?): reload with POST /api/v1/reload");
            }
        } catch (IllegalArgumentException e) { // -Xrs, or not a POSIX system
            LOG.warning("cannot handle SIGHUP, reload with POST /api/v1/reload: " + e.getMessage());
        }
    }

    /** A running agent: probe (or /proc), aggregator, HTTP server. */
    public static final class Agent implements AutoCloseable {
        private final Probe probe;
        private final ProbeLoop loop;
        private final Vertx vertx;
        private final ApiServer api;
        public final Aggregator aggregator;
        private volatile AlertService alerts;
        // the config in force and what came of it: replaced together by a reload, under this agent's lock
        private Config config;
        private HttpSecurity security;
        private volatile ApiServer.ConfigState configState;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        private Agent(Probe probe, ProbeLoop loop, Vertx vertx, ApiServer api, Aggregator aggregator, Config config,
                      HttpSecurity security) {
            this.probe = probe;
            this.loop = loop;
            this.vertx = vertx;
            this.api = api;
            this.aggregator = aggregator;
            this.config = config;
            this.security = security;
        }

        /** Starts an agent that exits the JVM (status 75) when collection is out for probe.maxOutage. */
        public static Agent start(Config config) throws Exception {
            return start(config, Main::exitForRestart);
        }

        /** Starts an agent; onOutage runs, once per outage, when collection has been out for probe.maxOutage. */
        public static Agent start(Config config, ProbeLoop.OutageHandler onOutage) throws Exception {
            // refuse a bad HTTP setup (no token off loopback...) before loading anything
            HttpSecurity security = HttpSecurity.of(config);
            Aggregator aggregator = new Aggregator(config.recentEvents(), System::currentTimeMillis);
            // refuses an unusable state directory before anything is loaded; evaluates once started
            AlertService alerts = AlertService.create(config, aggregator);
            Probe probe = null;
            if (!config.probeEnabled()) {
                aggregator.setProbe(false, "probe disabled by configuration (--no-probe)");
            } else {
                String mismatch = Probe.contractMismatch(); // figures decoded from another layout would be wrong, not missing
                if (mismatch != null) {
                    alerts.close();
                    throw new IllegalStateException(mismatch);
                }
                try {
                    probe = Probe.open(new Probe.Options(config.ringBytes(), config.maxEventsPerSec(), 0, false,
                            java.util.Set.copyOf(config.disabledFeatures()), config.runStats()));
                    String grace = System.getenv("TCPULSE_NETNS_FORGET_GRACE_MS"); // test seam: the 60 s grace, shortened
                    if (grace != null) probe.forgetGraceMillis(Long.parseLong(grace.strip()));
                    aggregator.setProbe(true, null);
                    aggregator.setProbeFeatures(probe.features());
                    LOG.info("probe attached: " + probe.ringCount() + " per-CPU rings");
                    for (var f : probe.features()) {
                        if (!f.on()) LOG.warning("probe feature " + f.name() + " is off: " + f.reason());
                    }
                } catch (ProbeException e) {
                    aggregator.setProbe(false, e.getMessage());
                    LOG.warning("BPF probe unavailable, degraded to /proc/net/tcp: " + e.getMessage());
                }
            }
            ProbeLoop loop = new ProbeLoop(probe, aggregator, new ProbeLoop.Settings(
                    config.tickMs(), 16384, config.walkIntervalMs(), 200, config.maxOutageMillis()), onOutage);
            // exact from the first second: the first walk runs before anyone can ask (a failure is retried by the loop)
            loop.firstWalk();
            aggregator.publish();
            loop.start();
            Vertx vertx = Vertx.vertx();
            ApiServer api = new ApiServer(aggregator, config.host(), config.port()).security(security)
                    .extend(alerts.api()::mount, alerts.api()::writeMetrics);
            try {
                vertx.deployVerticle(api).await();
            } catch (Exception e) {
                alerts.close();
                stopProbe(probe, loop);
                vertx.close();
                throw new IllegalStateException("cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
            }
            LOG.info("tcpulse listening on " + security.scheme() + "://" + hostForUrl(config.host()) + ":"
                    + api.actualPort() + "/" + (security.tokenRequired() ? " (bearer token required)" : ""));
            Agent agent = new Agent(probe, loop, vertx, api, aggregator, config, security);
            agent.alerts = alerts;
            agent.setConfigState(new ApiServer.ConfigState(config.configFile(), System.currentTimeMillis(), null, List.of()));
            try {
                alerts.start(AlertService.defaultExternalUrl(security.tls(), config.host(), api.actualPort()));
            } catch (java.io.IOException e) { // the outbox left by the last run cannot be read
                agent.close();
                throw e;
            }
            api.setReloadHook(() -> agent.reload().json());
            return agent;
        }

        /** What a reload did: the file read, when, the keys now in force, the keys that wait for a restart. */
        public record Reloaded(String file, long loadedMillis, List<String> changed, List<String> restartRequired) {
            public JsonObject json() {
                return new JsonObject()
                        .put("file", file)
                        .put("loadedMillis", loadedMillis)
                        .put("changed", new JsonArray(changed))
                        .put("restartRequired", new JsonArray(restartRequired));
            }
        }

        /**
         * Reads the config file and the flags again, as at start-up, and puts the result in
         * force: alert rules, receivers and their secrets, delivery, the token, the TLS pair
         * and the HTTP limits. Settings read only at start-up keep their running values and
         * are reported as restartRequired. Returns once the new config is in force; an
         * invalid file throws with every problem and changes nothing.
         */
        public synchronized Reloaded reload() throws Config.ConfigException, IOException {
            String file = config.configFile();
            LOG.info("reloading the config" + (file == null ? " (no --config file: flags and the files they name)" : " from " + file));
            try {
                Config next = config.reread();
                HttpSecurity.of(next); // as the next start would read it: refused now, not at the next restart
                Config.Reload plan = config.reload(next, alerts.stateDir() != null);
                Config applied = plan.applied();
                HttpSecurity nextSecurity = HttpSecurity.of(applied).keepingBucketsOf(security);
                AlertService.Prepared nextAlerts = alerts.prepareReload(applied.alerts(), applied.stateDir());
                List<String> changed = new ArrayList<>(plan.changed());
                for (String key : nextSecurity.fileChanges(security)) if (!changed.contains(key)) changed.add(key);
                try { // a renewed TLS pair last of what can refuse: once it is in, everything goes in
                    api.updateSecurity(nextSecurity).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException | TimeoutException e) {
                    Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                    throw new Config.ConfigException("http.tlsCert " + applied.tlsCert() + " and http.tlsKey "
                            + applied.tlsKey() + " cannot be used: " + cause.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while loading the TLS pair", e);
                }
                alerts.reload(nextAlerts);
                config = applied;
                security = nextSecurity;
                long now = System.currentTimeMillis();
                setConfigState(new ApiServer.ConfigState(file, now, null, plan.restartRequired()));
                LOG.info("config reloaded: " + (changed.isEmpty() ? "nothing changed" : "changed " + String.join(", ", changed))
                        + (plan.restartRequired().isEmpty() ? "" : "; these wait for a restart: "
                        + String.join(", ", plan.restartRequired())));
                return new Reloaded(file, now, List.copyOf(changed), plan.restartRequired());
            } catch (Config.ConfigException | IOException | RuntimeException e) {
                String why = e.getMessage() == null ? e.toString() : e.getMessage();
                setConfigState(configState.failed(why));
                LOG.warning("reload refused, still running on the config loaded at "
                        + java.time.Instant.ofEpochMilli(configState.loadedMillis()) + ": " + why);
                throw e;
            }
        }

        /** SIGHUP: a reload whose outcome only the log and /api/v1/health tell. */
        public void reloadOnSignal() {
            try {
                reload();
            } catch (Config.ConfigException | IOException | RuntimeException e) {
                // logged by reload(); the agent keeps running on its current config
            }
        }

        /** Where the config came from and how its last reload went (/api/v1/health). */
        public ApiServer.ConfigState configState() { return configState; }

        private void setConfigState(ApiServer.ConfigState state) {
            configState = state;
            api.setConfigState(state);
        }

        public int port() { return api.actualPort(); }

        /** The probe loop (tests reach its step hook through it). */
        public ProbeLoop probeLoop() { return loop; }

        public AlertService alerts() { return alerts; }

        /** How long close() waits for the probe thread (a walk of many namespaces) before leaving the handle be. */
        static final long PROBE_JOIN_MILLIS = 10_000;

        /** Detach, stop and join the probe thread, free the handle: never while that thread may still use it. */
        private static void stopProbe(Probe probe, ProbeLoop loop) {
            if (probe != null) probe.detach();
            boolean joined;
            try {
                joined = loop.stop(PROBE_JOIN_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                joined = false;
            }
            if (probe == null) return;
            if (joined) {
                probe.close();
            } else { // freeing it under a running call would be a use-after-free: the process exit frees it
                LOG.warning("the probe thread is still in a call after " + PROBE_JOIN_MILLIS / 1000
                        + " s: its programs are detached; the native handle is left to the process exit");
            }
        }

        private static String hostForUrl(String host) {
            return host.contains(":") ? "[" + host + "]" : host;
        }

        /**
         * Stops in order: the programs detach (the kernel stops running them at once), the
         * probe thread stops and is joined, and only then is the native handle freed; then
         * alerts and the HTTP side. Safe however often and from whichever thread it is called.
         */
        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) return;
            stopProbe(probe, loop);
            if (alerts != null) alerts.close(); // the outbox keeps what is not delivered
            try {
                vertx.close().await(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                LOG.warning("HTTP server still closing after 5 s: exiting anyway");
            } catch (Exception ignored) {
                // shutting down anyway
            }
        }
    }
}
