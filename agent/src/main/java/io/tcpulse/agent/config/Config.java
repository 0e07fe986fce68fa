package io.tcpulse.agent.config;

import io.tcpulse.agent.config.JsonTree.Node;
import io.tcpulse.agent.config.JsonTree.Obj;
import io.tcpulse.agent.config.JsonTree.Problems;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The agent's settings: defaults, then the config file (YAML or JSON), then command-line flags.
 * Every rule is checked here, once; messages name the setting, the rule and the value seen.
 */
public record Config(
        String host, int port,
        boolean probeEnabled, long maxEventsPerSec, int ringBytes, int tickMs,
        /* probe features not to use (native/tcpulse.h, enum tcpulse_feature): names from Probe.featureNames() */
        java.util.List<String> disabledFeatures,
        /* collection out this long makes the agent exit for systemd to restart it; 0: never */
        long maxOutageMillis,
        /* have the kernel count the programs' run time (BPF_ENABLE_STATS) */
        boolean runStats,
        long walkIntervalMs, int recentEvents,
        /* HTTP side (issue 7): bearer token file, TLS PEM pair, request limits, CORS */
        String tokenFile, String tlsCert, String tlsKey,
        long maxRequestBytes, int requestsPerSecond, java.util.List<String> corsOrigins,
        /* concurrent HTTP connections; 0: what RLIMIT_NOFILE leaves after a reserve for the probe */
        int maxConnections,
        /* bounds on what users of the host control (issue 11): series, pages, connections per client, streams */
        Limits limits,
        /* alerts (issue 5): where the outbox and alert state live (null: chosen at start), rules, receivers */
        String stateDir, AlertsConfig alerts,
        /* the command line this came from: a reload reads the same files under the same flags */
        java.util.List<String> args) {

    /**
     * Events per second and CPU streamed in full by default. Above it the kernel samples
     * the per-event stream (counters stay exact): at a storm's 200,000 events/s per CPU,
     * streaming every event costs the host several percent for detail nobody reads.
     */
    public static final long DEFAULT_EVENTS_PER_CPU = 50_000;

    /** Collection out this long by default before the agent exits to be restarted. */
    public static final java.time.Duration DEFAULT_MAX_OUTAGE = java.time.Duration.ofMinutes(5);

    public static Config defaults() {
        return new Config("127.0.0.1", 9470, true, DEFAULT_EVENTS_PER_CPU * onlineCpus(), 0 /* auto: see libtcpulse */, 5,
                java.util.List.of(), DEFAULT_MAX_OUTAGE.toMillis(), false, 2000, 10_000,
                null, null, null, 64 * 1024, 100, java.util.List.of(), 0, Limits.defaults(), null, AlertsConfig.defaults(), java.util.List.of());
    }

    /** CPUs online (/sys/devices/system/cpu/online, "0-3,6"): the probe splits the rate among them. */
    static int onlineCpus() {
        try {
            int n = 0;
            for (String range : java.nio.file.Files.readString(java.nio.file.Path.of("/sys/devices/system/cpu/online")).trim().split(",")) {
                String[] ends = range.split("-");
                n += ends.length == 1 ? 1 : Integer.parseInt(ends[1]) - Integer.parseInt(ends[0]) + 1;
            }
            return Math.max(1, n);
        } catch (java.io.IOException | RuntimeException e) {
            return Runtime.getRuntime().availableProcessors();
        }
    }

    /** Thrown with a message meant for the user. */
    public static final class ConfigException extends Exception {
        private final List<String> problems;

        public ConfigException(String message) {
            super(message);
            problems = List.of(message);
        }

        /** Every problem found, each "line N: ..." when it comes from the config file. */
        public ConfigException(List<String> problems) {
            this(String.join("\n", problems), problems);
        }

        private ConfigException(String message, List<String> problems) {
            super(message);
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() { return problems; }

        /** The same problems introduced by where they were found ("config file /etc/tcpulse.json"). */
        ConfigException in(String where) {
            return new ConfigException(problems.size() == 1 ? where + ": " + problems.get(0)
                    : where + ":\n  " + String.join("\n  ", problems), problems);
        }
    }

    /**
     * Defaults, then the --config file(s), then the other options (picocli reads the
     * command line: {@link RunOptions}), checked.
     */
    public static Config parse(String[] args) throws ConfigException {
        RunOptions o = RunOptions.parse(args);
        Config c = defaults();
        for (String file : o.config) c = c.withFile(Path.of(file));
        if (o.listen != null) c = c.withListen("--listen", o.listen);
        if (o.noProbe) c = c.with(b -> b.probeEnabled = false);
        if (o.probeRunStats) c = c.with(b -> b.runStats = true);
        if (o.maxEventsPerSec != null) { long v = number("--max-events-per-sec", o.maxEventsPerSec, 0); c = c.with(b -> b.maxEventsPerSec = v); }
        for (String f : o.disableFeature) c = c.with(b -> b.disabledFeatures = append(b.disabledFeatures, f));
        if (o.ringBytes != null) { long v = number("--ring-bytes", o.ringBytes, 4096); c = c.with(b -> b.ringBytes = (int) Math.min(v, 1L << 30)); }
        if (o.maxCollectionOutage != null) { long v = outage("--max-collection-outage", o.maxCollectionOutage); c = c.with(b -> b.maxOutageMillis = v); }
        if (o.maxConnections != null) { long v = number("--max-connections", o.maxConnections, 0); c = c.with(b -> b.maxConnections = (int) Math.min(v, 1_000_000)); }
        if (o.walkIntervalMs != null) { long v = number("--walk-interval-ms", o.walkIntervalMs, 100); c = c.with(b -> b.walkIntervalMs = v); }
        if (o.recentEvents != null) { long v = number("--recent-events", o.recentEvents, 1); c = c.with(b -> b.recentEvents = (int) Math.min(v, 1_000_000)); }
        if (o.tokenFile != null) c = c.with(b -> b.tokenFile = o.tokenFile);
        if (o.tlsCert != null) c = c.with(b -> b.tlsCert = o.tlsCert);
        if (o.tlsKey != null) c = c.with(b -> b.tlsKey = o.tlsKey);
        if (o.maxRequestBytes != null) { long v = number("--max-request-bytes", o.maxRequestBytes, 1024); c = c.with(b -> b.maxRequestBytes = v); }
        if (o.requestsPerSecond != null) { long v = number("--requests-per-second", o.requestsPerSecond, 0); c = c.with(b -> b.requestsPerSecond = (int) Math.min(v, 1_000_000)); }
        for (String origin : o.corsOrigin) c = c.with(b -> b.corsOrigins = append(b.corsOrigins, origin));
        for (String url : o.webhook) { AlertsConfig v = c.alerts.withWebhook(url); c = c.with(b -> b.alerts = v); }
        for (String url : o.alertmanager) { AlertsConfig v = c.alerts.withAlertmanager(url); c = c.with(b -> b.alerts = v); }
        if (o.stateDir != null) { String v = Path.of(o.stateDir).toAbsolutePath().normalize().toString(); c = c.with(b -> b.stateDir = v); }
        List<String> line = o.toArgs();
        c = c.with(b -> b.args = line);
        c.validate();
        return c;
    }

    /** The --config file this was read from (the last one when there are several), or null. */
    public String configFile() {
        try {
            return RunOptions.parse(args.toArray(String[]::new)).configFile();
        } catch (ConfigException e) {
            return null; // args were parsed once already: cannot happen
        }
    }

    /** Defaults, the config file(s) and the flags read again, as at start-up: flags still win over the file. */
    public Config reread() throws ConfigException {
        return parse(args.toArray(String[]::new));
    }

    /**
     * What reloading next over this running config does. applied: next with the settings
     * read only at start-up kept as they run; changed: the keys whose new values apply;
     * restartRequired: the keys that differ but wait for a restart.
     */
    public record Reload(Config applied, List<String> changed, List<String> restartRequired) {}

    /**
     * Sorts what next (this config read again) changes into what a reload applies and what
     * waits for a restart.
     *
     * @param stateDirInUse whether the outbox and alert state already live somewhere: then
     *                      stateDir waits for a restart; otherwise a new one is used from now on
     */
    public Reload reload(Config next, boolean stateDirInUse) {
        List<String> changed = new ArrayList<>(), restart = new ArrayList<>();
        Builder b = new Builder(next);
        // the listening socket, the probe and its buffers, and the walk thread are set up once
        restartOnly(restart, "listen", host + ":" + port, next.host + ":" + next.port, () -> { b.host = host; b.port = port; });
        if (stateDirInUse) restartOnly(restart, "stateDir", stateDir, next.stateDir, () -> b.stateDir = stateDir);
        else differs(changed, "stateDir", stateDir, next.stateDir);
        restartOnly(restart, "probe.enabled", probeEnabled, next.probeEnabled, () -> b.probeEnabled = probeEnabled);
        restartOnly(restart, "probe.maxEventsPerSec", maxEventsPerSec, next.maxEventsPerSec, () -> b.maxEventsPerSec = maxEventsPerSec);
        restartOnly(restart, "probe.ringBytes", ringBytes, next.ringBytes, () -> b.ringBytes = ringBytes);
        restartOnly(restart, "probe.tickMs", tickMs, next.tickMs, () -> b.tickMs = tickMs);
        restartOnly(restart, "probe.disabledFeatures", disabledFeatures, next.disabledFeatures, () -> b.disabledFeatures = disabledFeatures);
        restartOnly(restart, "probe.runStats", runStats, next.runStats, () -> b.runStats = runStats);
        restartOnly(restart, "probe.maxOutage", maxOutageMillis, next.maxOutageMillis, () -> b.maxOutageMillis = maxOutageMillis);
        restartOnly(restart, "walk.intervalMs", walkIntervalMs, next.walkIntervalMs, () -> b.walkIntervalMs = walkIntervalMs);
        restartOnly(restart, "events.recent", recentEvents, next.recentEvents, () -> b.recentEvents = recentEvents);
        differs(changed, "http.tokenFile", tokenFile, next.tokenFile);
        if ((tlsCert == null) != (next.tlsCert == null)) { // http <-> https is another listening socket
            restart.add("http.tlsCert");
            restart.add("http.tlsKey");
            b.tlsCert = tlsCert;
            b.tlsKey = tlsKey;
        } else {
            differs(changed, "http.tlsCert", tlsCert, next.tlsCert);
            differs(changed, "http.tlsKey", tlsKey, next.tlsKey);
        }
        differs(changed, "http.maxRequestBytes", maxRequestBytes, next.maxRequestBytes);
        differs(changed, "http.requestsPerSecond", requestsPerSecond, next.requestsPerSecond);
        differs(changed, "http.corsOrigins", corsOrigins, next.corsOrigins);
        differs(changed, "http.maxConnections", maxConnections, next.maxConnections);
        changed.addAll(limits.changes(next.limits));
        changed.addAll(alerts.changes(next.alerts));
        return new Reload(b.build(), List.copyOf(changed), List.copyOf(restart));
    }

    private static void differs(List<String> out, String key, Object was, Object now) {
        if (!java.util.Objects.equals(was, now)) out.add(key);
    }

    private static void restartOnly(List<String> out, String key, Object was, Object now, Runnable keep) {
        if (java.util.Objects.equals(was, now)) return;
        out.add(key);
        keep.run();
    }

    private void validate() throws ConfigException {
        if (ringBytes != 0 && Integer.bitCount(ringBytes) != 1) {
            throw new ConfigException("probe.ringBytes must be a power of two, got " + ringBytes);
        }
        List<String> known = io.tcpulse.agent.probe.Probe.featureNames();
        for (String f : disabledFeatures) {
            // without the library there is no probe to turn anything off in
            if (!known.isEmpty() && !known.contains(f)) {
                throw new ConfigException("probe.disabledFeatures: unknown feature " + f + "; known: " + String.join(", ", known));
            }
        }
    }

    private static final List<String> TOP_KEYS = List.of("listen", "stateDir", "probe", "walk", "events", "http", "alerts", "limits");
    private static final List<String> HTTP_KEYS = List.of("tokenFile", "tlsCert", "tlsKey", "maxRequestBytes",
            "requestsPerSecond", "corsOrigins", "maxConnections");
    private static final List<String> PROBE_KEYS = List.of("enabled", "maxEventsPerSec", "ringBytes", "tickMs", "disabledFeatures",
            "maxOutage", "runStats");
    private static final List<String> WALK_KEYS = List.of("intervalMs");
    private static final List<String> EVENTS_KEYS = List.of("recent");

    /**
     * Defaults, then the file, checked: what --config and `tcpulse check --config FILE` read.
     * Every problem in the file is reported, each with its line ("config file F: line 12: ...").
     */
    public static Config load(Path file) throws ConfigException {
        Config c = defaults().withFile(file);
        c.validate();
        return c;
    }

    /** Defaults, then a config file's text, checked; problems read "line N: ...". */
    public static Config fromJson(String json) throws ConfigException {
        Config c = defaults().withJson(json);
        c.validate();
        return c;
    }

    /** The same for a YAML file's text: the same keys, rules and messages. */
    public static Config fromYaml(String yaml) throws ConfigException {
        Config c = defaults().withTree(YamlTree.parse(yaml));
        c.validate();
        return c;
    }

    /**
     * Whether file is read as YAML: by its extension (.yml, .yaml: YAML; .json: JSON);
     * any other name is JSON when its text starts with '{', YAML otherwise.
     */
    static boolean isYaml(Path file, String text) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".yml") || name.endsWith(".yaml")) return true;
        if (name.endsWith(".json")) return false;
        return !text.stripLeading().startsWith("{");
    }

    Config withFile(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e);
        }
        try {
            return withTree(isYaml(file, text) ? YamlTree.parse(text) : JsonTree.parse(text));
        } catch (ConfigException e) {
            throw e.in("config file " + file);
        }
    }

    /** This config overlaid with the JSON text; every key, type and bound checked. */
    Config withJson(String text) throws ConfigException {
        return withTree(JsonTree.parse(text));
    }

    /** This config overlaid with a parsed file (JSON or YAML); every key, type and bound checked. */
    Config withTree(Obj root) throws ConfigException {
        Problems p = new Problems();
        JsonTree.object(root, TOP_KEYS, p);
        Builder b = new Builder(this);
        Node n;
        if ((n = root.get("listen")) != null) {
            String v = JsonTree.string(n, p);
            if (v != null) {
                try {
                    Config l = withListen("listen", v);
                    b.host = l.host;
                    b.port = l.port;
                } catch (ConfigException e) {
                    p.at(n, e.getMessage());
                }
            }
        }
        if ((n = root.get("stateDir")) != null) {
            String v = JsonTree.string(n, p);
            if (v != null && !Path.of(v).isAbsolute()) p.at(n, "stateDir must be an absolute path, got " + JsonTree.shown(n));
            else if (v != null) b.stateDir = Path.of(v).normalize().toString();
        }
        Obj probe = section(root, "probe", PROBE_KEYS, p);
        if (probe != null) {
            if ((n = probe.get("enabled")) != null) { Boolean v = JsonTree.bool(n, p); if (v != null) b.probeEnabled = v; }
            if ((n = probe.get("maxEventsPerSec")) != null) { Long v = JsonTree.whole(n, 0, Long.MAX_VALUE, p); if (v != null) b.maxEventsPerSec = v; }
            if ((n = probe.get("ringBytes")) != null) {
                Long v = JsonTree.whole(n, 4096, 1L << 30, p);
                if (v != null && Long.bitCount(v) != 1) p.at(n, "probe.ringBytes must be a power of two, got " + v);
                else if (v != null) b.ringBytes = v.intValue();
            }
            if ((n = probe.get("disabledFeatures")) != null) {
                List<String> v = strings(n, p);
                if (v != null) b.disabledFeatures = v;
            }
            if ((n = probe.get("runStats")) != null) { Boolean v = JsonTree.bool(n, p); if (v != null) b.runStats = v; }
            if ((n = probe.get("tickMs")) != null) { Long v = JsonTree.whole(n, 1, 10_000, p); if (v != null) b.tickMs = v.intValue(); }
            if ((n = probe.get("maxOutage")) != null) {
                java.time.Duration v = JsonTree.duration(n, false, p);
                if (v != null && v.compareTo(MIN_OUTAGE) < 0 && !v.isZero()) {
                    p.at(n, "probe.maxOutage must be 0s (never) or at least " + Durations.format(MIN_OUTAGE) + ", got " + JsonTree.shown(n));
                } else if (v != null) {
                    b.maxOutageMillis = v.toMillis();
                }
            }
        }
        Obj walk = section(root, "walk", WALK_KEYS, p);
        if (walk != null && (n = walk.get("intervalMs")) != null) {
            Long v = JsonTree.whole(n, 100, Long.MAX_VALUE, p);
            if (v != null) b.walkIntervalMs = v;
        }
        Obj events = section(root, "events", EVENTS_KEYS, p);
        if (events != null && (n = events.get("recent")) != null) {
            Long v = JsonTree.whole(n, 1, 1_000_000, p);
            if (v != null) b.recentEvents = v.intValue();
        }
        Obj http = section(root, "http", HTTP_KEYS, p);
        if (http != null) {
            if ((n = http.get("tokenFile")) != null) b.tokenFile = JsonTree.string(n, p);
            if ((n = http.get("tlsCert")) != null) b.tlsCert = JsonTree.string(n, p);
            if ((n = http.get("tlsKey")) != null) b.tlsKey = JsonTree.string(n, p);
            if (http.has("tlsCert") != http.has("tlsKey")) {
                p.at(http, "http.tlsCert and http.tlsKey go together: " + (http.has("tlsCert") ? "tlsKey" : "tlsCert") + " is missing");
            }
            if ((n = http.get("maxRequestBytes")) != null) { Long v = JsonTree.whole(n, 1024, Integer.MAX_VALUE, p); if (v != null) b.maxRequestBytes = v; }
            if ((n = http.get("requestsPerSecond")) != null) { Long v = JsonTree.whole(n, 0, 1_000_000, p); if (v != null) b.requestsPerSecond = v.intValue(); }
            if ((n = http.get("maxConnections")) != null) { Long v = JsonTree.whole(n, 0, 1_000_000, p); if (v != null) b.maxConnections = v.intValue(); }
            if ((n = http.get("corsOrigins")) != null) {
                List<String> v = strings(n, p);
                if (v != null) b.corsOrigins = v;
            }
        }
        if ((n = root.get("alerts")) != null) b.alerts = AlertsConfig.parse(n, p);
        Obj limits = section(root, "limits", Limits.KEYS, p);
        if (limits != null) b.limits = b.limits.overlay(limits, p);
        if (p.any()) throw new ConfigException(p.list);
        return b.build();
    }

    private static Obj section(Obj root, String key, List<String> allowed, Problems p) {
        Node n = root.get(key);
        return n == null ? null : JsonTree.object(n, allowed, p);
    }

    Config withListen(String name, String hostPort) throws ConfigException {
        int colon = hostPort == null ? -1 : hostPort.lastIndexOf(':');
        if (colon <= 0) throw new ConfigException(name + " must be HOST:PORT, got " + hostPort);
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        long port = number(name + " port", hostPort.substring(colon + 1), 0);
        if (port > 65535) throw new ConfigException(name + " port must be 0..65535, got " + port);
        String h = host;
        return with(b -> { b.host = h; b.port = (int) port; });
    }

    /** Shorter outages than this are retries, not reasons to restart (the backoff reaches 10 s). */
    static final java.time.Duration MIN_OUTAGE = java.time.Duration.ofSeconds(1);

    private static long outage(String name, String text) throws ConfigException {
        java.time.Duration d = Durations.parse(text);
        if (d == null) throw new ConfigException(name + " must be a duration like 5m or 90s (0s: never), got \"" + text + "\"");
        if (!d.isZero() && d.compareTo(MIN_OUTAGE) < 0) {
            throw new ConfigException(name + " must be 0s (never) or at least " + Durations.format(MIN_OUTAGE) + ", got " + text);
        }
        return d.toMillis();
    }

    private static long number(String name, String s, long min) throws ConfigException {
        long v;
        try {
            v = Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(name + " must be a whole number, got \"" + s + "\"");
        }
        if (v < min) throw new ConfigException(name + " must be at least " + min + ", got " + v);
        return v;
    }

    private static List<String> append(List<String> list, String item) {
        List<String> out = new ArrayList<>(list);
        out.add(item);
        return List.copyOf(out);
    }

    /** An array of strings; null (the problem noted) when n is not an array. */
    private static List<String> strings(Node n, Problems p) {
        JsonTree.Arr a = JsonTree.array(n, p);
        if (a == null) return null;
        List<String> out = new ArrayList<>();
        for (Node item : a.items()) {
            String v = JsonTree.string(item, p);
            if (v != null) out.add(v);
        }
        return List.copyOf(out);
    }

    private interface Edit { void apply(Builder b); }

    private Config with(Edit e) {
        Builder b = new Builder(this);
        e.apply(b);
        return b.build();
    }

    private static final class Builder {
        String host; int port; boolean probeEnabled; long maxEventsPerSec; int ringBytes; int tickMs;
        java.util.List<String> disabledFeatures;
        long maxOutageMillis;
        boolean runStats;
        long walkIntervalMs; int recentEvents;
        String tokenFile, tlsCert, tlsKey; long maxRequestBytes; int requestsPerSecond;
        java.util.List<String> corsOrigins;
        int maxConnections;
        Limits limits;
        String stateDir; AlertsConfig alerts;
        java.util.List<String> args;

        Builder(Config c) {
            host = c.host; port = c.port; probeEnabled = c.probeEnabled; maxEventsPerSec = c.maxEventsPerSec;
            ringBytes = c.ringBytes; tickMs = c.tickMs; disabledFeatures = c.disabledFeatures; walkIntervalMs = c.walkIntervalMs; recentEvents = c.recentEvents;
            maxOutageMillis = c.maxOutageMillis; runStats = c.runStats;
            tokenFile = c.tokenFile; tlsCert = c.tlsCert; tlsKey = c.tlsKey; maxRequestBytes = c.maxRequestBytes;
            requestsPerSecond = c.requestsPerSecond; corsOrigins = c.corsOrigins; maxConnections = c.maxConnections;
            limits = c.limits;
            stateDir = c.stateDir; alerts = c.alerts; args = c.args;
        }

        Config build() {
            return new Config(host, port, probeEnabled, maxEventsPerSec, ringBytes, tickMs, disabledFeatures,
                    maxOutageMillis, runStats, walkIntervalMs, recentEvents,
                    tokenFile, tlsCert, tlsKey, maxRequestBytes, requestsPerSecond, corsOrigins, maxConnections, limits,
                    stateDir, alerts, args);
        }
    }
}
