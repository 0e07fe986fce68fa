package io.tcpulse.agent.config;

import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * The agent's options (tcpulse run, tcpulse check), declared once for picocli: both
 * `--opt value` and `--opt=value` are accepted, help is generated from these
 * descriptions. Values stay text here: {@link Config#parse} checks them with the same
 * rules and messages as the config file's keys.
 */
public final class RunOptions {
    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "HTTP API and dashboard (default 127.0.0.1:9470)")
    String listen;

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "settings file, YAML (.yml, .yaml) or JSON (.json);"
            + " read again on SIGHUP and POST /api/v1/reload")
    List<String> config = new ArrayList<>();

    @Option(names = "--no-probe", description = "do not load BPF programs: read /proc only (degraded)")
    boolean noProbe;

    @Option(names = "--max-events-per-sec", paramLabel = "N", description = "sample the per-event stream above N events/s;"
            + " counters stay exact (0 = never; default 50,000 per online CPU)")
    String maxEventsPerSec;

    @Option(names = "--disable-feature", paramLabel = "NAME", description = "do not use this probe feature (repeatable;"
            + " see `tcpulse check`)")
    List<String> disableFeature = new ArrayList<>();

    @Option(names = "--probe-run-stats", description = "have the kernel count the probe programs' run time (about"
            + " 20 ns per run; needs CAP_SYS_ADMIN): tcpulse_probe_run_seconds_total")
    boolean probeRunStats;

    @Option(names = "--ring-bytes", paramLabel = "N", description = "per-CPU ring buffer size, a power of two (default:"
            + " 16 MiB, at most 256 MiB in all)")
    String ringBytes;

    @Option(names = "--max-collection-outage", paramLabel = "DURATION", description = "exit (status 75, for systemd to"
            + " restart) when collection has failed for this long, e.g. 5m (default), 90s; 0s = never")
    String maxCollectionOutage;

    @Option(names = "--walk-interval-ms", paramLabel = "N", description = "reconciliation walk period (default 2000)")
    String walkIntervalMs;

    @Option(names = "--recent-events", paramLabel = "N", description = "events kept for /api/v1/events (default 10000)")
    String recentEvents;

    @Option(names = "--token-file", paramLabel = "FILE", description = "bearer token required on every request"
            + " (needed off loopback)")
    String tokenFile;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "serve HTTPS with this PEM certificate (with --tls-key)")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "the PEM private key of --tls-cert")
    String tlsKey;

    @Option(names = "--max-request-bytes", paramLabel = "N", description = "largest request body accepted (default 65536)")
    String maxRequestBytes;

    @Option(names = "--requests-per-second", paramLabel = "N", description = "per client address; 0 = no limit (default 100)")
    String requestsPerSecond;

    @Option(names = "--cors-origin", paramLabel = "ORIGIN", description = "allow a browser origin (repeatable; default none)")
    List<String> corsOrigin = new ArrayList<>();

    @Option(names = "--max-connections", paramLabel = "N", description = "concurrent HTTP connections (default 0:"
            + " RLIMIT_NOFILE less the descriptors open at start and 64 kept for the probe)")
    String maxConnections;

    @Option(names = "--alertmanager", paramLabel = "URL", description = "push alerts to this Alertmanager"
            + " (http://am:9093; POST /api/v2/alerts), repeatable: every Alertmanager of an HA pair gets every alert")
    List<String> alertmanager = new ArrayList<>();

    @Option(names = "--webhook", paramLabel = "URL", description = "send alerts to URL as webhook notifications"
            + " (Alertmanager's webhook JSON; an Alertmanager is not one: use --alertmanager), repeatable")
    List<String> webhook = new ArrayList<>();

    @Option(names = "--state-dir", paramLabel = "DIR", description = "alert state and outbox (default /var/lib/tcpulse,"
            + " see docs/alerts.md)")
    String stateDir;

    /** The options in args, or a ConfigException naming the one not understood. */
    public static RunOptions parse(String[] args) throws Config.ConfigException {
        RunOptions o = new RunOptions();
        try {
            new CommandLine(o).setOverwrittenOptionsAllowed(true).setExpandAtFiles(false).parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new Config.ConfigException(e.getMessage() + " (`tcpulse run --help` lists the options)");
        }
        return o;
    }

    /** The same options as `--opt value` pairs, in a fixed order: what a reload reads again. */
    public List<String> toArgs() {
        List<String> a = new ArrayList<>();
        config.forEach(v -> add(a, "--config", v));
        add(a, "--listen", listen);
        if (noProbe) a.add("--no-probe");
        if (probeRunStats) a.add("--probe-run-stats");
        add(a, "--max-events-per-sec", maxEventsPerSec);
        disableFeature.forEach(v -> add(a, "--disable-feature", v));
        add(a, "--ring-bytes", ringBytes);
        add(a, "--max-collection-outage", maxCollectionOutage);
        add(a, "--walk-interval-ms", walkIntervalMs);
        add(a, "--recent-events", recentEvents);
        add(a, "--token-file", tokenFile);
        add(a, "--tls-cert", tlsCert);
        add(a, "--tls-key", tlsKey);
        add(a, "--max-request-bytes", maxRequestBytes);
        add(a, "--requests-per-second", requestsPerSecond);
        corsOrigin.forEach(v -> add(a, "--cors-origin", v));
        add(a, "--max-connections", maxConnections);
        alertmanager.forEach(v -> add(a, "--alertmanager", v));
        webhook.forEach(v -> add(a, "--webhook", v));
        add(a, "--state-dir", stateDir);
        return a;
    }

    /** The last --config file, or null. */
    public String configFile() {
        return config.isEmpty() ? null : config.get(config.size() - 1);
    }

    private static void add(List<String> a, String name, String value) {
        if (value == null) return;
        a.add(name);
        a.add(value);
    }
}
