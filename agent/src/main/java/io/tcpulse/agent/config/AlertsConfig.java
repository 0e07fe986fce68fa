package io.tcpulse.agent.config;

import io.tcpulse.agent.config.JsonTree.Arr;
import io.tcpulse.agent.config.JsonTree.Node;
import io.tcpulse.agent.config.JsonTree.Obj;
import io.tcpulse.agent.config.JsonTree.Problems;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The `alerts` section: built-in rules with their effective settings, webhook receivers
 * and delivery settings. The rule catalog ({@link #BUILTIN}) is the one place that names
 * each rule, its settings and their defaults; docs/alerts.md mirrors it.
 */
public record AlertsConfig(Duration evaluationInterval, String externalUrl, Map<String, Rule> rules,
                           List<Receiver> receivers, Delivery delivery, int maxFiringPerRule, Duration resendInterval) {

    /** Alerts a rule keeps at most (pending or firing); past it one aggregate alert counts the other culprits. */
    public static final int DEFAULT_MAX_FIRING_PER_RULE = 100;
    /** How often firing alerts are sent again to Alertmanagers by default (Prometheus' --rules.alert.resend-delay). */
    public static final Duration DEFAULT_RESEND = Duration.ofMinutes(1);

    public AlertsConfig {
        rules = Collections.unmodifiableMap(new LinkedHashMap<>(rules));
        receivers = List.copyOf(receivers);
        if (maxFiringPerRule < 1) throw new IllegalArgumentException("alerts.maxFiringPerRule must be at least 1, got " + maxFiringPerRule);
        if (resendInterval == null) resendInterval = DEFAULT_RESEND;
    }

    public AlertsConfig(Duration evaluationInterval, String externalUrl, Map<String, Rule> rules,
                        List<Receiver> receivers, Delivery delivery) {
        this(evaluationInterval, externalUrl, rules, receivers, delivery, DEFAULT_MAX_FIRING_PER_RULE, DEFAULT_RESEND);
    }

    /** The receivers that are Alertmanagers (alerts.alertmanagers, --alertmanager). */
    public List<Receiver> alertmanagers() {
        return receivers.stream().filter(Receiver::alertmanagerApi).toList();
    }

    // ---- effective settings ----

    /**
     * One rule's effective settings. threshold/clearBelow are null for rules whose
     * condition is a verdict; settings holds the rule's own extras (Duration, Double or String).
     */
    public record Rule(String name, boolean enabled, Duration forDuration, Double threshold, Double clearBelow,
                       Duration repeatInterval, String severity, Map<String, Object> settings) {
        public Rule {
            settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
        }

        public Duration duration(String key) { return (Duration) settings.get(key); }

        public double number(String key) { return ((Number) settings.get(key)).doubleValue(); }

        public String text(String key) { return (String) settings.get(key); }

        public Spec spec() { return AlertsConfig.spec(name); }
    }

    /**
     * Where notifications go. secret: HMAC-SHA256 key, null when payloads are not signed.
     * An Alertmanager (format {@link #ALERTMANAGER_API}) gets alerts on its url (…/api/v2/alerts);
     * tlsCa: PEM certificates its TLS certificate must chain to (null: the JVM's);
     * timeout: its own request timeout (null: alerts.delivery.timeout).
     */
    public record Receiver(String name, String url, String format, Map<String, String> headers, String secret,
                           String tlsCa, Duration timeout) {
        public static final List<String> FORMATS = List.of("alertmanager", "json", "slack");
        /** Alertmanager's own API, POST /api/v2/alerts: how Prometheus sends alerts. */
        public static final String ALERTMANAGER_API = "alertmanager-api";

        public Receiver {
            headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        }

        public Receiver(String name, String url, String format, Map<String, String> headers, String secret) {
            this(name, url, format, headers, secret, null, null);
        }

        public boolean alertmanagerApi() { return ALERTMANAGER_API.equals(format); }

        @Override
        public String toString() { // neither the secret nor header values (tokens) end up in logs
            return "Receiver[" + name + " " + format + " " + redactedUrl() + "]";
        }

        /** scheme://host[:port]/… : webhook URLs often carry a token in their path. */
        public String redactedUrl() {
            URI u = URI.create(url);
            return u.getScheme() + "://" + u.getRawAuthority().replaceAll("^.*@", "") + (u.getRawPath() == null
                    || u.getRawPath().isEmpty() || u.getRawPath().equals("/") ? "/" : "/…");
        }
    }

    /**
     * Retries: exponential from initialBackoff up to maxBackoff, jittered; 4xx dropped after
     * clientErrorAttempts. The outbox of each receiver holds at most maxPending notifications
     * and maxPendingBytes; older than maxAge they are dropped; a receiver's answer is read up
     * to maxResponseBytes; timeout bounds each whole request.
     */
    public record Delivery(Duration initialBackoff, Duration maxBackoff, Duration timeout, int clientErrorAttempts,
                           int maxPending, long maxPendingBytes, Duration maxAge, int maxResponseBytes) {
        public static final int DEFAULT_MAX_PENDING = 10_000;
        public static final long DEFAULT_MAX_PENDING_BYTES = 64L << 20;
        public static final Duration DEFAULT_MAX_AGE = Duration.ofHours(24);
        public static final int DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

        public Delivery(Duration initialBackoff, Duration maxBackoff, Duration timeout, int clientErrorAttempts) {
            this(initialBackoff, maxBackoff, timeout, clientErrorAttempts, DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES,
                    DEFAULT_MAX_AGE, DEFAULT_MAX_RESPONSE_BYTES);
        }

        public static Delivery defaults() {
            return new Delivery(Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofSeconds(10), 3);
        }

        public Delivery withOutbox(int maxPending, long maxPendingBytes, Duration maxAge) {
            return new Delivery(initialBackoff, maxBackoff, timeout, clientErrorAttempts, maxPending, maxPendingBytes, maxAge,
                    maxResponseBytes);
        }
    }

    // ---- the catalog ----

    public enum Kind { DURATION, NUMBER, WHOLE, CHOICE }

    /** A rule's own setting: its kind, default and bounds (min exclusive unless minInclusive). */
    public record Param(String name, Kind kind, Object dflt, double min, boolean minInclusive, double max,
                        List<String> choices, String help) {
        static Param duration(String name, String dflt, String help) {
            return new Param(name, Kind.DURATION, Durations.parse(dflt), 0, false, Double.POSITIVE_INFINITY, List.of(), help);
        }
    }

    /** How a thresholded rule compares: fire at value >= threshold, resolve below clearBelow. */
    public record Threshold(double threshold, double clearBelow, double max, String unit) {}

    /** A built-in rule: name, what it watches, threshold (null: a verdict), defaults. */
    public record Spec(String name, String condition, Threshold threshold, Duration forDefault,
                       Duration repeatDefault, String severity, List<Param> params) {
        public boolean thresholded() { return threshold != null; }

        /** Every key the rule accepts in alerts.rules.NAME. */
        public List<String> keys() {
            List<String> k = new ArrayList<>(List.of("enabled", "for", "repeatInterval", "severity"));
            if (thresholded()) k.addAll(List.of("threshold", "clearBelow"));
            params.forEach(p -> k.add(p.name()));
            return k;
        }
    }

    private static final Duration REPEAT = Duration.ofHours(4);
    private static final double INF = Double.POSITIVE_INFINITY;

    public static final List<Spec> BUILTIN = List.of(
            new Spec("acceptQueueOverflow", "connections dropped because a listener's accept queue was full, within window",
                    new Threshold(1, 1, INF, "overflows"), Duration.ofSeconds(15), REPEAT, "critical",
                    List.of(Param.duration("window", "10s", "how far back overflows are counted"))),
            new Spec("acceptQueueFull", "the listener's verdict is accept-queue-full (the application is not accepting fast enough)",
                    null, Duration.ofSeconds(30), REPEAT, "warning", List.of()),
            new Spec("synFlood", "the listener's verdict is syn-flood-suspected (half-open sockets and SYN-ACK retransmits climb)",
                    null, Duration.ofSeconds(10), REPEAT, "warning", List.of()),
            new Spec("synQueueDrops", "TcpExt TCPReqQFullDrop rises within window in a namespace whose listeners have syncookies off",
                    new Threshold(1, 1, INF, "drops"), Duration.ZERO, REPEAT, "critical",
                    List.of(Param.duration("window", "1m", "how far back drops are counted"))),
            new Spec("timeWaitExhaustion", "ports held towards one destination (TIME_WAIT + live) over the usable ephemeral range",
                    new Threshold(0.8, 0.7, 1, "ratio"), Duration.ofMinutes(1), REPEAT, "critical", List.of()),
            new Spec("timeWaitOverflow", "TIME_WAIT buckets overflowed (TcpExt TCPTimeWaitOverflow rises) within window",
                    new Threshold(1, 1, INF, "overflows"), Duration.ZERO, REPEAT, "warning",
                    List.of(Param.duration("window", "5m", "how far back overflows are counted"))),
            new Spec("closeWaitLeak", "an owner's CLOSE_WAIT sockets are flagged leaking or the oldest is older than minAge",
                    null, Duration.ofMinutes(1), REPEAT, "warning",
                    List.of(Param.duration("minAge", "5m", "a CLOSE_WAIT socket older than this is a leak"),
                            new Param("minCount", Kind.WHOLE, 1.0, 1, true, 1e9, List.of(),
                                    "fewer CLOSE_WAIT sockets than this are never reported"))),
            new Spec("resetStorm", "RSTs sent and received per second in a namespace, or on one listener's port, over window",
                    new Threshold(100, 50, INF, "RST/s"), Duration.ofMinutes(1), REPEAT, "warning",
                    List.of(Param.duration("window", "1m", "the rate is averaged over this"))),
            new Spec("handshakeLatency", "a percentile of handshake durations within window, per namespace and side",
                    new Threshold(1.0, 0.5, INF, "seconds"), Duration.ofMinutes(2), REPEAT, "warning",
                    List.of(Param.duration("window", "5m", "handshakes completed within this are measured"),
                            new Param("percentile", Kind.NUMBER, 99.0, 0, false, 100, List.of(), "0 < p <= 100"),
                            new Param("side", Kind.CHOICE, "both", 0, true, 0, List.of("server", "client", "both"),
                                    "server: SYN_RECV->ESTABLISHED, client: SYN_SENT->ESTABLISHED"),
                            new Param("minCount", Kind.WHOLE, 20.0, 1, true, 1e9, List.of(),
                                    "fewer handshakes than this in window say nothing"))),
            new Spec("connectFailures", "failed connects towards one destination over the connects made there within window (with the commonest reason)",
                    new Threshold(0.2, 0.1, 1, "ratio"), Duration.ofMinutes(1), REPEAT, "warning",
                    List.of(Param.duration("window", "5m", "connects and failures within this are counted"),
                            new Param("minConnects", Kind.WHOLE, 10.0, 1, true, 1e12, List.of(),
                                    "fewer connects than this in window say nothing"))),
            new Spec("connectFailureRate", "failed connects per second towards one destination over window (with the commonest reason)",
                    new Threshold(1, 0.5, INF, "failures/s"), Duration.ofMinutes(1), REPEAT, "warning",
                    List.of(Param.duration("window", "1m", "the rate is averaged over this"))),
            new Spec("retransmitRatio", "segments retransmitted over segments sent within window, towards one destination or on one listener's connections",
                    new Threshold(0.02, 0.01, 1, "ratio"), Duration.ofMinutes(2), REPEAT, "warning",
                    List.of(Param.duration("window", "5m", "segments sent and retransmitted within this are counted"),
                            new Param("minSegments", Kind.WHOLE, 1000.0, 1, true, 1e12, List.of(),
                                    "fewer segments sent than this in window say nothing"))),
            new Spec("eventsLost", "the agent lost kernel events (ring full, map full, undecodable) within window",
                    new Threshold(1, 1, INF, "events"), Duration.ZERO, REPEAT, "warning",
                    List.of(Param.duration("window", "5m", "how far back losses are counted"))),
            new Spec("probeUnavailable", "the eBPF probe is enabled but not attached: the agent runs degraded on /proc",
                    null, Duration.ZERO, REPEAT, "critical", List.of()));

    public static Spec spec(String name) {
        for (Spec s : BUILTIN) if (s.name().equals(name)) return s;
        return null;
    }

    public static Rule defaultRule(Spec s) {
        Map<String, Object> settings = new LinkedHashMap<>();
        s.params().forEach(p -> settings.put(p.name(), p.dflt()));
        return new Rule(s.name(), true, s.forDefault(),
                s.thresholded() ? s.threshold().threshold() : null,
                s.thresholded() ? s.threshold().clearBelow() : null,
                s.repeatDefault(), s.severity(), settings);
    }

    public static AlertsConfig defaults() {
        Map<String, Rule> rules = new LinkedHashMap<>();
        BUILTIN.forEach(s -> rules.put(s.name(), defaultRule(s)));
        return new AlertsConfig(Duration.ofSeconds(5), null, rules, List.of(), Delivery.defaults());
    }

    /** These plus one Alertmanager-format receiver (--webhook URL). */
    public AlertsConfig withWebhook(String url) throws Config.ConfigException {
        String problem = urlProblem(url);
        if (problem == null) problem = alertmanagerApiPath(url);
        if (problem != null) throw new Config.ConfigException("--webhook " + problem + ", got " + JsonTree.quote(url));
        Set<String> names = new LinkedHashSet<>();
        receivers.forEach(r -> names.add(r.name()));
        String name = "webhook";
        for (int i = 2; names.contains(name); i++) name = "webhook-" + i;
        List<Receiver> rs = new ArrayList<>(receivers);
        rs.add(new Receiver(name, url, "alertmanager", Map.of(), null));
        return new AlertsConfig(evaluationInterval, externalUrl, rules, rs, delivery, maxFiringPerRule, resendInterval);
    }

    /** These plus one Alertmanager (--alertmanager URL): alerts go to URL/api/v2/alerts. */
    public AlertsConfig withAlertmanager(String url) throws Config.ConfigException {
        String problem = urlProblem(url);
        if (problem != null) throw new Config.ConfigException("--alertmanager " + problem + ", got " + JsonTree.quote(url));
        List<Receiver> rs = new ArrayList<>(receivers);
        rs.add(new Receiver(freeName(receivers, "alertmanager"), alertmanagerEndpoint(url), Receiver.ALERTMANAGER_API,
                Map.of(), null, null, null));
        return new AlertsConfig(evaluationInterval, externalUrl, rules, rs, delivery, maxFiringPerRule, resendInterval);
    }

    private static String freeName(List<Receiver> taken, String base) {
        Set<String> names = new LinkedHashSet<>();
        taken.forEach(r -> names.add(r.name()));
        String name = base;
        for (int i = 2; names.contains(name); i++) name = base + "-" + i;
        return name;
    }

    /**
     * Why a webhook URL that points at Alertmanager's own API cannot work (Alertmanager takes
     * no webhook payloads: 404 on these paths, 400 on /api/v2/alerts), or null.
     */
    static String alertmanagerApiPath(String url) {
        String path = URI.create(url).getPath();
        if (path == null || !(path.endsWith("/api/v2/alerts") || path.endsWith("/api/v1/alerts")
                || path.endsWith("/api/v1/alerts-webhook"))) {
            return null;
        }
        String base = url.substring(0, url.lastIndexOf("/api/"));
        return "is Alertmanager's API, which takes no webhook payloads: make it an Alertmanager target"
                + " (alerts.alertmanagers url, or --alertmanager) with " + base;
    }

    /** Alertmanager's base URL (http://am:9093, or with a route prefix) to its alerts endpoint. */
    static String alertmanagerEndpoint(String base) {
        String b = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        return b.endsWith("/api/v2/alerts") ? b : b + "/api/v2/alerts";
    }

    /**
     * The keys next sets differently: alerts.evaluationInterval, alerts.externalUrl,
     * alerts.rules.NAME per rule, alerts.receivers.NAME per receiver added, removed or
     * changed (its secret file's content included), alerts.delivery.
     */
    public List<String> changes(AlertsConfig next) {
        List<String> out = new ArrayList<>();
        if (!evaluationInterval.equals(next.evaluationInterval)) out.add("alerts.evaluationInterval");
        if (!java.util.Objects.equals(externalUrl, next.externalUrl)) out.add("alerts.externalUrl");
        for (String name : rules.keySet()) {
            if (!rules.get(name).equals(next.rules.get(name))) out.add("alerts.rules." + name);
        }
        Map<String, Receiver> was = new LinkedHashMap<>(), now = new LinkedHashMap<>();
        receivers.forEach(r -> was.put(r.name(), r));
        next.receivers.forEach(r -> now.put(r.name(), r));
        Set<String> names = new LinkedHashSet<>(was.keySet());
        names.addAll(now.keySet());
        for (String name : names) {
            if (!java.util.Objects.equals(was.get(name), now.get(name))) out.add("alerts.receivers." + name);
        }
        if (!delivery.equals(next.delivery)) out.add("alerts.delivery");
        if (maxFiringPerRule != next.maxFiringPerRule) out.add("alerts.maxFiringPerRule");
        if (!resendInterval.equals(next.resendInterval)) out.add("alerts.resendInterval");
        return out;
    }

    // ---- reading the section ----

    private static final List<String> KEYS = List.of("evaluationInterval", "externalUrl", "rules", "receivers",
            "alertmanagers", "resendInterval", "delivery", "maxFiringPerRule");
    private static final List<String> ALERTMANAGER_KEYS = List.of("name", "url", "basicAuth", "bearerTokenFile",
            "tlsCaFile", "timeout");
    private static final List<String> BASIC_AUTH_KEYS = List.of("username", "password", "passwordFile");
    private static final List<String> RECEIVER_KEYS = List.of("name", "url", "format", "headers", "secret", "secretFile");
    private static final List<String> DELIVERY_KEYS = List.of("initialBackoff", "maxBackoff", "timeout", "clientErrorAttempts",
            "maxPending", "maxPendingBytes", "maxAge", "maxResponseBytes");
    private static final Pattern RECEIVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    /** Set by tcpulse or by the HTTP client: a receiver cannot override them. */
    private static final Set<String> RESERVED_HEADERS = Set.of("content-type", "content-length", "host", "connection",
            "expect", "upgrade", "transfer-encoding", "idempotency-key", "x-tcpulse-signature");
    private static final Duration MIN_EVALUATION = Duration.ofMillis(100);

    static AlertsConfig parse(Node node, Problems p) {
        AlertsConfig d = defaults();
        Obj o = JsonTree.object(node, KEYS, p);
        if (o == null) return d;
        Duration interval = d.evaluationInterval;
        if (o.has("evaluationInterval")) {
            Duration v = JsonTree.duration(o.get("evaluationInterval"), true, p);
            if (v != null && v.compareTo(MIN_EVALUATION) < 0) {
                p.at(o.get("evaluationInterval"), "alerts.evaluationInterval must be at least 100ms, got "
                        + JsonTree.shown(o.get("evaluationInterval")));
            } else if (v != null) {
                interval = v;
            }
        }
        String externalUrl = null;
        if (o.has("externalUrl")) {
            Node n = o.get("externalUrl");
            String v = JsonTree.string(n, p);
            if (v != null && urlProblem(v) != null) p.at(n, n.path() + " " + urlProblem(v) + ", got " + JsonTree.shown(n));
            else externalUrl = v;
        }
        Map<String, Rule> rules = new LinkedHashMap<>(d.rules);
        if (o.has("rules")) {
            Obj r = JsonTree.object(o.get("rules"), null, p);
            if (r != null) {
                for (var e : r.fields().entrySet()) {
                    Spec spec = spec(e.getKey());
                    if (spec == null) {
                        p.at(r.keyLines().get(e.getKey()), "alerts.rules." + e.getKey() + " is not a built-in rule (rules: "
                                + String.join(", ", BUILTIN.stream().map(Spec::name).sorted().toList()) + ")");
                        continue;
                    }
                    Rule rule = rule(spec, e.getValue(), p);
                    if (rule != null) rules.put(spec.name(), rule);
                }
            }
        }
        List<Receiver> receivers = new ArrayList<>();
        if (o.has("receivers")) {
            Arr a = JsonTree.array(o.get("receivers"), p);
            if (a != null) {
                Map<String, String> seen = new LinkedHashMap<>();
                for (int i = 0; i < a.items().size(); i++) {
                    Node item = a.items().get(i);
                    Receiver rc = receiver(item, i, p);
                    if (rc == null) continue;
                    if (seen.containsKey(rc.name())) {
                        p.at(item, item.path() + ".name " + JsonTree.quote(rc.name()) + " is already used by " + seen.get(rc.name()));
                        continue;
                    }
                    seen.put(rc.name(), item.path());
                    receivers.add(rc);
                }
            }
        }
        if (o.has("alertmanagers")) {
            Arr a = JsonTree.array(o.get("alertmanagers"), p);
            if (a != null) {
                for (int i = 0; i < a.items().size(); i++) {
                    Node item = a.items().get(i);
                    Receiver am = alertmanager(item, i, receivers, p);
                    if (am != null) receivers.add(am);
                }
            }
        }
        Duration resend = d.resendInterval;
        if (o.has("resendInterval")) {
            Duration v = JsonTree.duration(o.get("resendInterval"), true, p);
            if (v != null && v.compareTo(Duration.ofSeconds(1)) < 0) {
                p.at(o.get("resendInterval"), "alerts.resendInterval must be at least 1s, got " + JsonTree.shown(o.get("resendInterval")));
            } else if (v != null) {
                resend = v;
            }
        }
        Delivery delivery = d.delivery;
        if (o.has("delivery")) delivery = delivery(o.get("delivery"), p);
        int maxFiring = d.maxFiringPerRule;
        if (o.has("maxFiringPerRule")) {
            Long v = JsonTree.whole(o.get("maxFiringPerRule"), 1, 100_000, p);
            if (v != null) maxFiring = v.intValue();
        }
        return new AlertsConfig(interval, externalUrl, rules, receivers, delivery, maxFiring, resend);
    }

    private static Rule rule(Spec spec, Node node, Problems p) {
        Obj o = node instanceof Obj ob ? ob : null;
        if (o == null) {
            p.at(node, node.path() + " must be an object such as {\"enabled\": false}, got " + JsonTree.shown(node));
            return null;
        }
        for (var e : o.keyLines().entrySet()) {
            if (!spec.keys().contains(e.getKey())) {
                p.at(e.getValue(), o.path() + "." + e.getKey() + " is not a setting of this rule (settings: "
                        + String.join(", ", spec.keys()) + ")");
            }
        }
        Rule d = defaultRule(spec);
        boolean enabled = d.enabled();
        if (o.has("enabled")) { Boolean v = JsonTree.bool(o.get("enabled"), p); if (v != null) enabled = v; }
        Duration forDuration = d.forDuration();
        if (o.has("for")) { Duration v = JsonTree.duration(o.get("for"), false, p); if (v != null) forDuration = v; }
        Duration repeat = d.repeatInterval();
        if (o.has("repeatInterval")) { Duration v = JsonTree.duration(o.get("repeatInterval"), true, p); if (v != null) repeat = v; }
        String severity = d.severity();
        if (o.has("severity")) { String v = JsonTree.string(o.get("severity"), p); if (v != null) severity = v; }
        Double threshold = d.threshold(), clearBelow = d.clearBelow();
        if (spec.thresholded()) {
            Threshold t = spec.threshold();
            if (o.has("threshold")) {
                Double v = JsonTree.number(o.get("threshold"), 0, false, t.max(), p);
                if (v != null) {
                    threshold = v;
                    clearBelow = v * t.clearBelow() / t.threshold(); // same proportion as the defaults
                }
            }
            if (o.has("clearBelow")) {
                Node n = o.get("clearBelow");
                Double v = JsonTree.number(n, 0, false, t.max(), p);
                if (v != null && v > threshold) {
                    p.at(n, n.path() + " must not be above the threshold (" + JsonTree.fmt(threshold) + "), got " + JsonTree.shown(n));
                } else if (v != null) {
                    clearBelow = v;
                }
            }
        }
        Map<String, Object> settings = new LinkedHashMap<>(d.settings());
        for (Param param : spec.params()) {
            Node n = o.get(param.name());
            if (n == null) continue;
            Object v = switch (param.kind()) {
                case DURATION -> JsonTree.duration(n, true, p);
                case NUMBER -> JsonTree.number(n, param.min(), param.minInclusive(), param.max(), p);
                case WHOLE -> {
                    Long l = JsonTree.whole(n, (long) param.min(), (long) param.max(), p);
                    yield l == null ? null : l.doubleValue();
                }
                case CHOICE -> {
                    String s = n instanceof JsonTree.Scalar sc && sc.value() instanceof String str ? str : null;
                    if (s == null || !param.choices().contains(s)) {
                        p.at(n, n.path() + " must be one of " + String.join(", ", param.choices()) + ", got " + JsonTree.shown(n));
                        yield null;
                    }
                    yield s;
                }
            };
            if (v != null) settings.put(param.name(), v);
        }
        return new Rule(spec.name(), enabled, forDuration, threshold, clearBelow, repeat, severity, settings);
    }

    private static Receiver receiver(Node node, int index, Problems p) {
        Obj o = JsonTree.object(node, RECEIVER_KEYS, p);
        if (o == null) return null;
        int before = p.list.size();
        String name = "receiver-" + (index + 1);
        if (o.has("name")) {
            String v = receiverName(o.get("name"), p);
            if (v != null) name = v;
        }
        String url = url(o, "", p);
        if (url != null && alertmanagerApiPath(url) != null) {
            p.at(o.get("url"), o.get("url").path() + " " + alertmanagerApiPath(url));
            url = null;
        }
        String format = "alertmanager";
        if (o.has("format")) {
            Node n = o.get("format");
            String v = n instanceof JsonTree.Scalar s && s.value() instanceof String str ? str : null;
            if (v == null || !Receiver.FORMATS.contains(v)) {
                p.at(n, n.path() + " must be one of " + String.join(", ", Receiver.FORMATS) + ", got " + JsonTree.shown(n));
            } else {
                format = v;
            }
        }
        Map<String, String> headers = new LinkedHashMap<>();
        if (o.has("headers")) {
            Obj h = JsonTree.object(o.get("headers"), null, p);
            if (h != null) {
                for (var e : h.fields().entrySet()) {
                    int line = h.keyLines().get(e.getKey());
                    String where = h.path() + "." + e.getKey();
                    if (!HEADER_NAME.matcher(e.getKey()).matches()) {
                        p.at(line, where + " is not a valid header name");
                    } else if (RESERVED_HEADERS.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                        p.at(line, where + " is set by tcpulse and cannot be configured");
                    } else {
                        String v = JsonTree.string(e.getValue(), p);
                        if (v != null && (v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0)) {
                            p.at(e.getValue(), where + " must not contain line breaks");
                        } else if (v != null) {
                            headers.put(e.getKey(), v);
                        }
                    }
                }
            }
        }
        String secret = null;
        if (o.has("secret") && o.has("secretFile")) {
            p.at(o.get("secretFile"), o.path() + " has both secret and secretFile: keep one");
        } else if (o.has("secret")) {
            secret = JsonTree.string(o.get("secret"), p);
        } else if (o.has("secretFile")) {
            Node n = o.get("secretFile");
            String file = JsonTree.string(n, p);
            if (file != null) {
                try {
                    secret = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
                    if (secret.isEmpty()) {
                        p.at(n, n.path() + " " + JsonTree.quote(file) + " is empty");
                        secret = null;
                    }
                } catch (IOException | RuntimeException e) {
                    p.at(n, n.path() + " " + JsonTree.quote(file) + " cannot be read: " + e);
                }
            }
        }
        if (p.list.size() != before || url == null) return null;
        return new Receiver(name, url, format, headers, secret);
    }

    /** A receiver's or Alertmanager's name, or null (said why) when it is not one. */
    private static String receiverName(Node n, Problems p) {
        String v = JsonTree.string(n, p);
        if (v != null && !RECEIVER_NAME.matcher(v).matches()) {
            p.at(n, n.path() + " must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got "
                    + JsonTree.shown(n));
            return null;
        }
        return v;
    }

    /** The object's http(s) url, or null (said why: missing, with hint, or not a URL). */
    private static String url(Obj o, String hint, Problems p) {
        if (!o.has("url")) {
            p.at(o, o.path() + " needs a url" + hint);
            return null;
        }
        Node n = o.get("url");
        String v = JsonTree.string(n, p);
        if (v != null && urlProblem(v) != null) {
            p.at(n, n.path() + " " + urlProblem(v) + ", got " + JsonTree.shown(n));
            return null;
        }
        return v;
    }

    /** alerts.alertmanagers[i]: url, optional basicAuth or bearerTokenFile, tlsCaFile, timeout. */
    private static Receiver alertmanager(Node node, int index, List<Receiver> taken, Problems p) {
        Obj o = JsonTree.object(node, ALERTMANAGER_KEYS, p);
        if (o == null) return null;
        int before = p.list.size();
        String name = null;
        if (o.has("name")) {
            Node n = o.get("name");
            String v = receiverName(n, p);
            if (v != null && taken.stream().anyMatch(r -> r.name().equals(v))) {
                p.at(n, n.path() + " " + JsonTree.quote(v) + " is already used by another receiver or Alertmanager");
            } else {
                name = v;
            }
        }
        if (name == null) name = freeName(taken, "alertmanager");
        String url = url(o, " (Alertmanager's, e.g. http://alertmanager:9093)", p);
        if (url != null) url = alertmanagerEndpoint(url);
        Map<String, String> headers = new LinkedHashMap<>();
        if (o.has("basicAuth") && o.has("bearerTokenFile")) {
            p.at(o.get("bearerTokenFile"), o.path() + " has both basicAuth and bearerTokenFile: keep one");
        } else if (o.has("basicAuth")) {
            Obj b = JsonTree.object(o.get("basicAuth"), BASIC_AUTH_KEYS, p);
            if (b != null) {
                String user = null, password = null;
                if (!b.has("username")) p.at(b, b.path() + " needs a username");
                else user = JsonTree.string(b.get("username"), p);
                if (b.has("password") == b.has("passwordFile")) {
                    p.at(b, b.path() + " needs one of password and passwordFile");
                } else if (b.has("password")) {
                    password = JsonTree.string(b.get("password"), p);
                } else {
                    password = readSecret(b.get("passwordFile"), p);
                }
                if (user != null && user.contains(":")) p.at(b.get("username"), b.path() + ".username must not contain ':'");
                else if (user != null && password != null) {
                    headers.put("Authorization", "Basic " + java.util.Base64.getEncoder()
                            .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)));
                }
            }
        } else if (o.has("bearerTokenFile")) {
            String token = readSecret(o.get("bearerTokenFile"), p);
            if (token != null) headers.put("Authorization", "Bearer " + token);
        }
        String ca = null;
        if (o.has("tlsCaFile")) {
            Node n = o.get("tlsCaFile");
            String file = JsonTree.string(n, p);
            if (file != null) {
                try {
                    ca = Files.readString(Path.of(file), StandardCharsets.UTF_8);
                    TlsTrust.context(ca); // refused here, not at the first alert
                } catch (IOException | RuntimeException | java.security.GeneralSecurityException e) {
                    p.at(n, n.path() + " " + JsonTree.quote(file) + " is not a readable PEM certificate file: " + e.getMessage());
                    ca = null;
                }
            }
        }
        Duration timeout = null;
        if (o.has("timeout")) timeout = JsonTree.duration(o.get("timeout"), true, p);
        if (p.list.size() != before || url == null) return null;
        return new Receiver(name, url, Receiver.ALERTMANAGER_API, headers, null, ca, timeout);
    }

    /** A file's content, stripped; null (the problem noted) when it cannot be read or is empty. */
    private static String readSecret(Node n, Problems p) {
        String file = JsonTree.string(n, p);
        if (file == null) return null;
        try {
            String v = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
            if (v.isEmpty()) {
                p.at(n, n.path() + " " + JsonTree.quote(file) + " is empty");
                return null;
            }
            if (v.indexOf('\n') >= 0 || v.indexOf('\r') >= 0) {
                p.at(n, n.path() + " " + JsonTree.quote(file) + " must hold one line");
                return null;
            }
            return v;
        } catch (IOException | RuntimeException e) {
            p.at(n, n.path() + " " + JsonTree.quote(file) + " cannot be read: " + e);
            return null;
        }
    }

    private static Delivery delivery(Node node, Problems p) {
        Delivery d = Delivery.defaults();
        Obj o = JsonTree.object(node, DELIVERY_KEYS, p);
        if (o == null) return d;
        Duration initial = d.initialBackoff(), max = d.maxBackoff(), timeout = d.timeout();
        int attempts = d.clientErrorAttempts();
        if (o.has("initialBackoff")) { Duration v = JsonTree.duration(o.get("initialBackoff"), true, p); if (v != null) initial = v; }
        if (o.has("maxBackoff")) {
            Node n = o.get("maxBackoff");
            Duration v = JsonTree.duration(n, true, p);
            if (v != null && v.compareTo(initial) < 0) {
                p.at(n, n.path() + " must not be shorter than initialBackoff (" + Durations.format(initial) + "), got " + JsonTree.shown(n));
            } else if (v != null) {
                max = v;
            }
        } else if (max.compareTo(initial) < 0) {
            max = initial;
        }
        if (o.has("timeout")) { Duration v = JsonTree.duration(o.get("timeout"), true, p); if (v != null) timeout = v; }
        if (o.has("clientErrorAttempts")) {
            Long v = JsonTree.whole(o.get("clientErrorAttempts"), 1, 100, p);
            if (v != null) attempts = v.intValue();
        }
        int maxPending = d.maxPending(), maxResponse = d.maxResponseBytes();
        long maxBytes = d.maxPendingBytes();
        Duration maxAge = d.maxAge();
        if (o.has("maxPending")) { Long v = JsonTree.whole(o.get("maxPending"), 1, 10_000_000, p); if (v != null) maxPending = v.intValue(); }
        if (o.has("maxPendingBytes")) { Long v = JsonTree.whole(o.get("maxPendingBytes"), 4096, 1L << 40, p); if (v != null) maxBytes = v; }
        if (o.has("maxAge")) { Duration v = JsonTree.duration(o.get("maxAge"), true, p); if (v != null) maxAge = v; }
        if (o.has("maxResponseBytes")) { Long v = JsonTree.whole(o.get("maxResponseBytes"), 256, 1L << 30, p); if (v != null) maxResponse = v.intValue(); }
        return new Delivery(initial, max, timeout, attempts, maxPending, maxBytes, maxAge, maxResponse);
    }

    /** Why url is not a usable http(s) URL, or null. */
    static String urlProblem(String url) {
        String rule = "must be an http:// or https:// URL";
        try {
            URI u = new URI(url);
            if (u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http") || u.getScheme().equalsIgnoreCase("https"))
                    || u.getHost() == null || u.getRawFragment() != null) {
                return rule;
            }
            return null;
        } catch (URISyntaxException e) {
            return rule;
        }
    }
}
