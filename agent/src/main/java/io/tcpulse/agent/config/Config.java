package io.tcpulse.agent.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The agent's settings: defaults, then the config file (JSON), then command-line flags.
 * Every rule is checked here, once; messages name the setting, the rule and the value seen.
 */
public record Config(
        String host, int port,
        boolean probeEnabled, long maxEventsPerSec, int ringBytes, int tickMs,
        long walkIntervalMs, int recentEvents,
        /* HTTP side (issue 7): bearer token file, TLS PEM pair, request limits, CORS */
        String tokenFile, String tlsCert, String tlsKey,
        long maxRequestBytes, int requestsPerSecond, java.util.List<String> corsOrigins) {

    public static final String USAGE = """
            usage: java -jar tcpulse.jar [--listen HOST:PORT] [--config FILE] [options]
              --listen HOST:PORT        HTTP API and dashboard (default 127.0.0.1:9470)
              --config FILE             JSON settings file (see README)
              --no-probe                do not load BPF programs: read /proc only (degraded)
              --max-events-per-sec N    sample the per-event stream above N events/s (0 = never; default 0)
              --ring-bytes N            per-CPU ring buffer size, a power of two (default 4194304)
              --walk-interval-ms N      reconciliation walk period (default 2000)
              --recent-events N         events kept for /api/v1/events (default 10000)
              --help                    this text
            """;

    public static Config defaults() {
        return new Config("127.0.0.1", 9470, true, 0, 4 << 20, 5, 2000, 10_000,
                null, null, null, 64 * 1024, 100, java.util.List.of());
    }

    /** Thrown with a message meant for the user. */
    public static final class ConfigException extends Exception {
        public ConfigException(String message) { super(message); }
    }

    public static Config parse(String[] args) throws ConfigException {
        Config c = defaults();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config")) c = c.withFile(Path.of(value(args, i++)));
        }
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--config" -> i++;
                case "--listen" -> c = c.withListen("--listen", value(args, i++));
                case "--no-probe" -> c = c.with(b -> b.probeEnabled = false);
                case "--max-events-per-sec" -> { long v = number(a, value(args, i++), 0); c = c.with(b -> b.maxEventsPerSec = v); }
                case "--ring-bytes" -> { long v = number(a, value(args, i++), 4096); c = c.with(b -> b.ringBytes = (int) Math.min(v, 1L << 30)); }
                case "--walk-interval-ms" -> { long v = number(a, value(args, i++), 100); c = c.with(b -> b.walkIntervalMs = v); }
                case "--recent-events" -> { long v = number(a, value(args, i++), 1); c = c.with(b -> b.recentEvents = (int) Math.min(v, 1_000_000)); }
                default -> throw new ConfigException("unknown option " + a + "\n" + USAGE);
            }
        }
        c.validate();
        return c;
    }

    private void validate() throws ConfigException {
        if (Integer.bitCount(ringBytes) != 1) {
            throw new ConfigException("probe.ringBytes must be a power of two, got " + ringBytes);
        }
    }

    private static final Set<String> TOP_KEYS = Set.of("listen", "probe", "walk", "events");
    private static final Set<String> PROBE_KEYS = Set.of("enabled", "maxEventsPerSec", "ringBytes", "tickMs");
    private static final Set<String> WALK_KEYS = Set.of("intervalMs");
    private static final Set<String> EVENTS_KEYS = Set.of("recent");

    Config withFile(Path file) throws ConfigException {
        JsonObject json;
        try {
            json = new JsonObject(Files.readString(file));
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
        } catch (DecodeException e) {
            throw new ConfigException("config file " + file + " is not valid JSON: " + e.getMessage());
        }
        List<String> errors = new ArrayList<>();
        unknownKeys(json, TOP_KEYS, "", errors);
        Config c = this;
        try {
            if (json.containsKey("listen")) c = c.withListen("listen", json.getString("listen"));
            JsonObject probe = section(json, "probe", PROBE_KEYS, errors);
            JsonObject walk = section(json, "walk", WALK_KEYS, errors);
            JsonObject events = section(json, "events", EVENTS_KEYS, errors);
            Builder b = new Builder(c);
            if (probe.containsKey("enabled")) b.probeEnabled = probe.getBoolean("enabled");
            if (probe.containsKey("maxEventsPerSec")) b.maxEventsPerSec = longAtLeast(probe, "probe.maxEventsPerSec", "maxEventsPerSec", 0);
            if (probe.containsKey("ringBytes")) b.ringBytes = (int) longAtLeast(probe, "probe.ringBytes", "ringBytes", 4096);
            if (probe.containsKey("tickMs")) b.tickMs = (int) longAtLeast(probe, "probe.tickMs", "tickMs", 1);
            if (walk.containsKey("intervalMs")) b.walkIntervalMs = longAtLeast(walk, "walk.intervalMs", "intervalMs", 100);
            if (events.containsKey("recent")) b.recentEvents = (int) longAtLeast(events, "events.recent", "recent", 1);
            c = b.build();
        } catch (ClassCastException e) {
            errors.add("wrong type in " + file + ": " + e.getMessage());
        }
        if (!errors.isEmpty()) throw new ConfigException("config file " + file + ": " + String.join("; ", errors));
        return c;
    }

    private static JsonObject section(JsonObject json, String key, Set<String> allowed, List<String> errors) {
        Object v = json.getValue(key);
        if (v == null) return new JsonObject();
        if (!(v instanceof JsonObject o)) {
            errors.add(key + " must be an object, got " + v);
            return new JsonObject();
        }
        unknownKeys(o, allowed, key + ".", errors);
        return o;
    }

    private static void unknownKeys(JsonObject o, Set<String> allowed, String prefix, List<String> errors) {
        for (String k : o.fieldNames()) {
            if (!allowed.contains(k)) errors.add("unknown key " + prefix + k + " (allowed: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
        }
    }

    private static long longAtLeast(JsonObject o, String name, String key, long min) throws ConfigException {
        Object v = o.getValue(key);
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new ConfigException(name + " must be a whole number, got " + v);
        }
        if (n.longValue() < min) throw new ConfigException(name + " must be at least " + min + ", got " + n);
        return n.longValue();
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

    private static String value(String[] args, int i) throws ConfigException {
        if (i + 1 >= args.length) throw new ConfigException(args[i] + " needs a value\n" + USAGE);
        return args[i + 1];
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

    private interface Edit { void apply(Builder b); }

    private Config with(Edit e) {
        Builder b = new Builder(this);
        e.apply(b);
        return b.build();
    }

    private static final class Builder {
        String host; int port; boolean probeEnabled; long maxEventsPerSec; int ringBytes; int tickMs;
        long walkIntervalMs; int recentEvents;
        String tokenFile, tlsCert, tlsKey; long maxRequestBytes; int requestsPerSecond;
        java.util.List<String> corsOrigins;

        Builder(Config c) {
            host = c.host; port = c.port; probeEnabled = c.probeEnabled; maxEventsPerSec = c.maxEventsPerSec;
            ringBytes = c.ringBytes; tickMs = c.tickMs; walkIntervalMs = c.walkIntervalMs; recentEvents = c.recentEvents;
            tokenFile = c.tokenFile; tlsCert = c.tlsCert; tlsKey = c.tlsKey; maxRequestBytes = c.maxRequestBytes;
            requestsPerSecond = c.requestsPerSecond; corsOrigins = c.corsOrigins;
        }

        Config build() {
            return new Config(host, port, probeEnabled, maxEventsPerSec, ringBytes, tickMs, walkIntervalMs, recentEvents,
                    tokenFile, tlsCert, tlsKey, maxRequestBytes, requestsPerSecond, corsOrigins);
        }
    }
}
