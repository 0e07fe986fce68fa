package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Histogram;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.PeerReport;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.TimeWaitReport;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.config.Durations;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The built-in rules, one class each, named as in {@link AlertsConfig#BUILTIN}. Each reads
 * the parts of the snapshot issues 3 and 4 fill (listeners, TIME_WAIT, CLOSE_WAIT, TcpExt,
 * resets, latency, health) and names the culprit in its labels.
 */
public final class BuiltinRules {
    private BuiltinRules() {}

    /**
     * The enabled rules of the config.
     *
     * @param probeExpected false when the probe was turned off on purpose (--no-probe):
     *                      probeUnavailable then stays quiet
     */
    public static List<Rule> create(AlertsConfig config, boolean probeExpected) {
        return create(config, probeExpected, List.of());
    }

    /**
     * The same after a reload: a rule takes over what its predecessor of the same name has
     * seen (counter windows, histograms), so new settings apply at the next evaluation
     * instead of after a window of warm-up.
     */
    public static List<Rule> create(AlertsConfig config, boolean probeExpected, List<Rule> previous) {
        Map<String, Rule> before = new HashMap<>();
        previous.forEach(r -> before.put(r.name(), r));
        List<Rule> out = new ArrayList<>();
        for (AlertsConfig.Rule r : config.rules().values()) {
            if (!r.enabled()) continue;
            Rule p = before.get(r.name());
            out.add(switch (r.name()) {
                case "acceptQueueOverflow" -> new AcceptQueueOverflow(r, p);
                case "acceptQueueFull" -> new ListenerVerdict(r, ListenerStatus.VERDICT_ACCEPT_QUEUE_FULL);
                case "synFlood" -> new ListenerVerdict(r, ListenerStatus.VERDICT_SYN_FLOOD);
                case "synQueueDrops" -> new SynQueueDrops(r, p);
                case "timeWaitExhaustion" -> new TimeWaitExhaustion(r);
                case "timeWaitOverflow" -> new TimeWaitOverflow(r, p);
                case "closeWaitLeak" -> new CloseWaitLeak(r);
                case "resetStorm" -> new ResetStorm(r, p);
                case "handshakeLatency" -> new HandshakeLatency(r, p);
                case "connectFailures" -> new ConnectFailures(r, p, false);
                case "connectFailureRate" -> new ConnectFailures(r, p, true);
                case "retransmitRatio" -> new RetransmitRatio(r, p);
                case "eventsLost" -> new EventsLost(r, p);
                case "probeUnavailable" -> new ProbeUnavailable(r, probeExpected);
                default -> throw new IllegalArgumentException("no implementation for rule " + r.name());
            });
        }
        return out;
    }

    // ---- shared wording ----

    static String endpoint(String addr, int port) {
        return io.tcpulse.agent.model.Addresses.endpoint(addr, port);
    }

    /** "tcpulse-storm (pid 4242, unit storm.service)", or "an unknown process". */
    static String owner(OwnerInfo o) {
        if (o == null || (o.pid() == 0 && o.comm().isEmpty() && unit(o.unit()).isEmpty())) return "an unknown process";
        List<String> parts = new ArrayList<>();
        if (o.pid() != 0) parts.add("pid " + o.pid());
        if (!unit(o.unit()).isEmpty()) parts.add("unit " + o.unit());
        String name = o.comm().isEmpty() ? "process" : o.comm();
        return parts.isEmpty() ? name : name + " (" + String.join(", ", parts) + ")";
    }

    static SortedMap<String, String> listenerId(ListenerStatus l) {
        return Sample.labels("netns", l.netns(), "addr", l.addr(), "port", l.port());
    }

    static SortedMap<String, String> ownerLabels(OwnerInfo o) {
        if (o == null) return new TreeMap<>();
        return Sample.labels("pid", o.pid() == 0 ? null : o.pid(), "comm", o.comm(), "unit", unit(o.unit()));
    }

    /** The root cgroup ("/") names no unit. */
    static String unit(String unit) {
        return unit == null || unit.equals("/") ? "" : unit;
    }

    static String num(double v) {
        if (Double.isNaN(v)) return "n/a";
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return String.format(Locale.ROOT, Math.abs(v) >= 10 ? "%.1f" : "%.3g", v);
    }

    static String dur(Duration d) {
        return Durations.format(d);
    }

    static String seconds(double s) {
        return s < 1 ? num(s * 1000) + " ms" : num(s) + " s";
    }

    // ---- listeners ----

    /** Accept-queue overflows of one listener within the window. */
    static final class AcceptQueueOverflow implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        AcceptQueueOverflow(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof AcceptQueueOverflow p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Duration w = settings.duration("window");
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (ListenerStatus l : s.listenerStatus()) {
                SortedMap<String, String> id = listenerId(l);
                long n = window.increase(id, now, l.overflows(), w.toMillis());
                String where = endpoint(l.addr(), l.port());
                out.add(new Sample(id, ownerLabels(l.owner()), n, null,
                        "Accept queue of " + where + " is overflowing (" + owner(l.owner()) + ")",
                        n + " connection attempt" + (n == 1 ? " was" : "s were") + " dropped in the last " + dur(w)
                                + " because the accept queue of " + where + " (netns " + l.netns() + ") was full ("
                                + l.acceptQueue() + " queued, limit " + l.acceptQueueMax() + "): " + owner(l.owner())
                                + " is not calling accept() fast enough, or its backlog is too small. "
                                + l.overflows() + " overflows since the agent started."));
            }
            window.end();
            return out;
        }
    }

    /** A listener whose verdict (issue 3) is accept-queue-full or syn-flood-suspected. */
    static final class ListenerVerdict implements Rule {
        private final AlertsConfig.Rule settings;
        private final String verdict;

        ListenerVerdict(AlertsConfig.Rule settings, String verdict) {
            this.settings = settings;
            this.verdict = verdict;
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            List<Sample> out = new ArrayList<>();
            for (ListenerStatus l : s.listenerStatus()) {
                boolean on = verdict.equals(l.verdict());
                String where = endpoint(l.addr(), l.port());
                SortedMap<String, String> details = ownerLabels(l.owner());
                String summary, description;
                double value;
                if (verdict.equals(ListenerStatus.VERDICT_SYN_FLOOD)) {
                    details.put("syncookies", l.syncookies() ? "on" : "off");
                    value = l.synQueue();
                    summary = "SYN flood suspected on " + where + " (" + owner(l.owner()) + ")";
                    description = "The SYN queue of " + where + " (netns " + l.netns() + ") holds " + l.synQueue()
                            + " half-open connections (limit " + l.synQueueMax() + ") and " + l.synAckRetransmits()
                            + " SYN-ACKs were retransmitted since the agent started, while handshakes do not complete. "
                            + (l.syncookies() ? "Syncookies are on: the kernel keeps answering, but check the sources."
                                    : "Syncookies are OFF: legitimate clients are being refused.");
                } else {
                    value = l.acceptQueueFill();
                    summary = "Accept queue of " + where + " stays full (" + owner(l.owner()) + ")";
                    description = "The accept queue of " + where + " (netns " + l.netns() + ") holds " + l.acceptQueue()
                            + " connections for a limit of " + l.acceptQueueMax() + ": " + owner(l.owner())
                            + " is not accepting fast enough. " + l.overflows() + " overflows since the agent started.";
                }
                out.add(new Sample(listenerId(l), details, value, on, summary, description));
            }
            return out;
        }
    }

    /** TcpExt TCPReqQFullDrop rising in a namespace whose listeners have syncookies off. */
    static final class SynQueueDrops implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        SynQueueDrops(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof SynQueueDrops p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Duration w = settings.duration("window");
            Map<Long, List<ListenerStatus>> byNetns = new HashMap<>();
            for (ListenerStatus l : s.listenerStatus()) byNetns.computeIfAbsent(l.netns(), k -> new ArrayList<>()).add(l);
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (var e : s.netstat().entrySet()) {
                long netns = e.getKey();
                Long drops = e.getValue().get("TCPReqQFullDrop");
                if (drops == null) continue;
                long n = window.increase(netns, now, drops, w.toMillis());
                List<ListenerStatus> off = byNetns.getOrDefault(netns, List.of()).stream()
                        .filter(l -> !l.syncookies()).toList();
                if (off.isEmpty()) continue; // syncookies on: the kernel answers with cookies, nothing is lost
                ListenerStatus top = off.get(0);
                for (ListenerStatus l : off) {
                    if (l.synQueue() * (long) Math.max(1, top.synQueueMax()) > top.synQueue() * (long) Math.max(1, l.synQueueMax())) top = l;
                }
                SortedMap<String, String> details = ownerLabels(top.owner());
                details.put("addr", top.addr());
                details.put("port", Integer.toString(top.port()));
                String where = endpoint(top.addr(), top.port());
                out.add(new Sample(Sample.labels("netns", netns), details, n, null,
                        "SYN queue drops with syncookies off in netns " + netns + " (fullest: " + where + ")",
                        n + " SYN" + (n == 1 ? " was" : "s were") + " dropped in the last " + dur(w) + " because a SYN queue was full"
                                + " (TcpExt TCPReqQFullDrop) in netns " + netns + ", where net.ipv4.tcp_syncookies is off."
                                + " The fullest SYN queue is " + where + " of " + owner(top.owner()) + " with "
                                + top.synQueue() + " of " + top.synQueueMax() + "."));
            }
            window.end();
            return out;
        }
    }

    // ---- the closing side ----

    /** Local ports towards one destination over the usable ephemeral range. */
    static final class TimeWaitExhaustion implements Rule {
        private final AlertsConfig.Rule settings;

        TimeWaitExhaustion(AlertsConfig.Rule settings) { this.settings = settings; }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            List<Sample> out = new ArrayList<>();
            for (var e : s.timewait().entrySet()) {
                for (TimeWaitReport.Remote r : e.getValue().byRemote()) {
                    String eta = r.secondsToExhaustion() == null ? "" : " At the current rate the range is exhausted in "
                            + num(r.secondsToExhaustion()) + " s.";
                    out.add(new Sample(Sample.labels("netns", e.getKey(), "remote", r.remote(), "local", r.local()),
                            new TreeMap<>(), r.exhaustion(), null,
                            "Ephemeral ports towards " + r.remote() + " " + Math.round(r.exhaustion() * 100) + "% used",
                            r.portsInUse() + " of " + r.portRange() + " usable local ports of " + r.local() + " towards "
                                    + r.remote() + " (netns " + e.getKey() + ") are held, " + r.count()
                                    + " of them in TIME_WAIT: new connections there will fail with EADDRNOTAVAIL"
                                    + " once none is left." + eta));
                }
            }
            return out;
        }
    }

    /** TIME_WAIT bucket overflows (TcpExt TCPTimeWaitOverflow) rising. */
    static final class TimeWaitOverflow implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        TimeWaitOverflow(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof TimeWaitOverflow p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Duration w = settings.duration("window");
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (var e : s.timewait().entrySet()) {
                TimeWaitReport t = e.getValue();
                long n = window.increase(e.getKey(), now, t.overflows(), w.toMillis());
                out.add(new Sample(Sample.labels("netns", e.getKey()), new TreeMap<>(), n, null,
                        "TIME_WAIT bucket overflow in netns " + e.getKey(),
                        n + " closing socket" + (n == 1 ? "" : "s") + " skipped TIME_WAIT in the last " + dur(w)
                                + " because netns " + e.getKey() + " holds " + t.total() + " TIME_WAIT sockets for a limit"
                                + " (net.ipv4.tcp_max_tw_buckets) of " + t.maxBuckets()
                                + ": late segments of old connections can now reach new ones."));
            }
            window.end();
            return out;
        }
    }

    /** A process or unit piling up CLOSE_WAIT sockets. */
    static final class CloseWaitLeak implements Rule {
        private final AlertsConfig.Rule settings;

        CloseWaitLeak(AlertsConfig.Rule settings) { this.settings = settings; }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            double minAge = settings.duration("minAge").toMillis() / 1000.0;
            long minCount = (long) settings.number("minCount");
            List<Sample> out = new ArrayList<>();
            for (var e : s.closewait().entrySet()) {
                for (CloseWaitReport.ByOwner o : e.getValue().byOwner()) {
                    boolean old = o.oldestAgeSeconds() >= minAge;
                    boolean on = o.count() >= minCount && (o.leaking() || old);
                    OwnerInfo who = new OwnerInfo(o.pid(), o.comm(), unit(o.unit()), "");
                    out.add(new Sample(Sample.labels("netns", e.getKey(), "pid", o.pid() == 0 ? null : o.pid(),
                            "comm", o.comm(), "unit", unit(o.unit())), new TreeMap<>(), o.count(), on,
                            "CLOSE_WAIT leak in " + owner(who),
                            (o.holders() != null && o.holders().isEmpty() ? "No process holds " + o.count()
                                    + " sockets (not yet accepted, or orphaned; " + owner(who) + ")"
                                    : owner(who) + " holds " + o.count() + " sockets" + sharedWith(o))
                                    + " in CLOSE_WAIT in netns " + e.getKey()
                                    + ", the oldest for " + num(o.oldestAgeSeconds()) + " s, growing by "
                                    + num(o.growthPerMinute()) + "/min: the peers closed but the application never"
                                    + " calls close() on them, and will run out of file descriptors."));
                }
            }
            return out;
        }
    }

    /** " (with pid 12 (nginx), ...)" when other processes hold the same sockets: any of them may close them. */
    static String sharedWith(CloseWaitReport.ByOwner o) {
        if (o.holders() == null || o.holders().size() < 2) return "";
        List<String> others = new ArrayList<>();
        for (OwnerInfo.HolderInfo h : o.holders()) {
            if (h.pid() != o.pid()) others.add("pid " + h.pid() + " (" + h.comm() + ")");
        }
        return others.isEmpty() ? "" : " (with " + String.join(", ", others) + ")";
    }

    /** RSTs per second per namespace, and per listener port. */
    static final class ResetStorm implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        ResetStorm(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof ResetStorm p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            long w = settings.duration("window").toMillis();
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (var e : s.resets().entrySet()) {
                Snapshot.Resets r = e.getValue();
                SortedMap<String, String> id = Sample.labels("netns", e.getKey());
                double sent = window.rate(List.of(id, "sent"), now, r.sent(), w);
                double recv = window.rate(List.of(id, "received"), now, r.received(), w);
                if (Double.isNaN(sent) || Double.isNaN(recv)) continue;
                out.add(new Sample(id, new TreeMap<>(), sent + recv, null,
                        "RST storm in netns " + e.getKey() + ": " + num(sent + recv) + " RST/s",
                        "Over the last " + dur(settings.duration("window")) + ", netns " + e.getKey() + " sent "
                                + num(sent) + " and received " + num(recv) + " TCP resets per second."));
            }
            for (ListenerStatus l : s.listenerStatus()) {
                SortedMap<String, String> id = listenerId(l);
                double sent = window.rate(List.of(id, "sent"), now, l.resetsSent(), w);
                double recv = window.rate(List.of(id, "received"), now, l.resetsReceived(), w);
                if (Double.isNaN(sent) || Double.isNaN(recv)) continue;
                String where = endpoint(l.addr(), l.port());
                out.add(new Sample(id, ownerLabels(l.owner()), sent + recv, null,
                        "RST storm on " + where + ": " + num(sent + recv) + " RST/s (" + owner(l.owner()) + ")",
                        "Over the last " + dur(settings.duration("window")) + ", port " + l.port() + " of " + where
                                + " (netns " + l.netns() + ", " + owner(l.owner()) + ") sent " + num(sent)
                                + " and received " + num(recv) + " TCP resets per second."));
            }
            window.end();
            return out;
        }
    }

    // ---- handshakes ----

    /** A percentile of the handshakes completed within the window. */
    static final class HandshakeLatency implements Rule {
        private record Point(long t, long[] counts) {}

        private final AlertsConfig.Rule settings;
        private final Map<List<Object>, ArrayDeque<Point>> history;

        HandshakeLatency(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.history = previous instanceof HandshakeLatency p ? p.history : new HashMap<>();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            long w = settings.duration("window").toMillis();
            double p = settings.number("percentile");
            long minCount = (long) settings.number("minCount");
            String sides = settings.text("side");
            List<Sample> out = new ArrayList<>();
            Set<List<Object>> seen = new HashSet<>();
            for (var e : s.latency().entrySet()) {
                Latency l = e.getValue();
                for (String side : List.of("server", "client")) {
                    if (!sides.equals("both") && !sides.equals(side)) continue;
                    Histogram h = side.equals("server") ? l.handshakeServer() : l.handshakeClient();
                    List<Object> key = List.of(e.getKey(), side);
                    seen.add(key);
                    long[] delta = windowed(key, now, h, w);
                    long count = 0;
                    for (long c : delta) count += c;
                    double v = count < minCount ? Double.NaN : percentile(delta, count, p);
                    String pName = "p" + num(p);
                    out.add(new Sample(Sample.labels("netns", e.getKey(), "side", side), new TreeMap<>(), v, null,
                            "Slow " + side + " handshakes in netns " + e.getKey() + ": " + pName + " " + seconds(v),
                            "The " + pName + " of the " + count + " " + side + "-side handshakes completed in the last "
                                    + dur(settings.duration("window")) + " in netns " + e.getKey() + " is " + seconds(v)
                                    + (side.equals("server") ? " (SYN_RECV to ESTABLISHED): lost SYN-ACKs or a slow path from clients."
                                    : " (SYN_SENT to ESTABLISHED): a slow or lossy path to the servers, or their SYN queues are full.")));
                }
            }
            history.keySet().retainAll(seen);
            return out;
        }

        /** Bucket counts added within the window (a histogram that went down was reset). */
        private long[] windowed(List<Object> key, long now, Histogram h, long w) {
            long[] counts = new long[Histogram.BUCKETS + 1];
            for (int i = 0; i <= Histogram.BUCKETS; i++) counts[i] = h.bucket(i);
            ArrayDeque<Point> points = history.computeIfAbsent(key, k -> new ArrayDeque<>());
            points.addLast(new Point(now, counts));
            while (points.size() > 1) {
                Point first = points.removeFirst();
                if (points.getFirst().t > now - w) {
                    points.addFirst(first);
                    break;
                }
            }
            long[] base = points.getFirst().counts;
            long[] delta = new long[counts.length];
            boolean reset = false;
            for (int i = 0; i < counts.length; i++) reset |= counts[i] < base[i];
            for (int i = 0; i < counts.length; i++) delta[i] = reset ? counts[i] : counts[i] - base[i];
            return delta;
        }

        /** As Histogram.percentile, over bucket counts. */
        static double percentile(long[] counts, long count, double p) {
            double rank = Math.max(1, Math.ceil(p / 100.0 * count));
            long seen = 0;
            for (int i = 0; i <= Histogram.BUCKETS; i++) {
                if (counts[i] == 0) continue;
                if (seen + counts[i] >= rank) {
                    double lo = i == 0 ? 0 : Histogram.UPPER_SECONDS[i - 1];
                    double hi = i < Histogram.BUCKETS ? Histogram.UPPER_SECONDS[i] : Histogram.UPPER_SECONDS[Histogram.BUCKETS - 1] * 2;
                    return lo + (hi - lo) * ((rank - seen) / counts[i]);
                }
                seen += counts[i];
            }
            return Histogram.UPPER_SECONDS[Histogram.BUCKETS - 1];
        }
    }

    // ---- how connections fare ----

    /** The first process that connected there, null when none is known: a destination's owner. */
    static OwnerInfo firstOwner(PeerReport p) {
        if (p.owners().isEmpty()) return null;
        PeerReport.Owner o = p.owners().get(0);
        return new OwnerInfo(o.pid(), o.comm(), unit(o.unit()), "");
    }

    static SortedMap<String, String> ownerLabels(PeerReport p) {
        return ownerLabels(firstOwner(p));
    }

    static String owners(PeerReport p) {
        String first = owner(firstOwner(p));
        return p.owners().size() <= 1 ? first : first + " and " + (p.owners().size() - 1) + " more";
    }

    /**
     * Failed connects towards one destination within the window: over the connects made
     * there (connectFailures, a ratio, quiet below minConnects) or per second
     * (connectFailureRate). The commonest reason of the window is a label.
     */
    static final class ConnectFailures implements Rule {
        private final AlertsConfig.Rule settings;
        private final boolean rate;
        private final CounterWindow window;

        ConnectFailures(AlertsConfig.Rule settings, Rule previous, boolean rate) {
            this.settings = settings;
            this.rate = rate;
            this.window = previous instanceof ConnectFailures p && p.rate == rate ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Duration w = settings.duration("window");
            long wm = w.toMillis();
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (var e : s.peers().entrySet()) {
                for (PeerReport p : e.getValue()) {
                    SortedMap<String, String> id = Sample.labels("netns", e.getKey(), "remote", p.remote());
                    long connects = window.increase(List.of(id, "connects"), now, p.connects(), wm);
                    Map<String, Long> byReason = new TreeMap<>();
                    long failed = 0;
                    String top = null;
                    for (var r : p.failed().entrySet()) {
                        long n = window.increase(List.of(id, r.getKey()), now, r.getValue(), wm);
                        if (n == 0) continue;
                        byReason.put(r.getKey(), n);
                        failed += n;
                        if (top == null || n > byReason.get(top)) top = r.getKey();
                    }
                    double value = rate ? window.rate(List.of(id, "failed"), now, p.failedTotal(), wm)
                            : connects < (long) settings.number("minConnects") ? Double.NaN : Math.min(1, (double) failed / connects);
                    if (Double.isNaN(value) && failed == 0) continue;
                    SortedMap<String, String> details = ownerLabels(p);
                    if (top != null) details.put("reason", top);
                    String reasons = byReason.isEmpty() ? "" : " (" + String.join(", ", byReason.entrySet().stream()
                            .map(r -> r.getValue() + " " + r.getKey()).toList()) + ")";
                    String figure = rate ? num(value) + " failed connects/s" : Math.round(value * 100) + "% of connects failing";
                    out.add(new Sample(id, details, value, null,
                            "Connects to " + p.remote() + ": " + figure + (top == null ? "" : ", mostly " + top),
                            failed + " of " + connects + " connects to " + p.remote() + " (netns " + e.getKey() + ") failed in the last "
                                    + dur(w) + reasons + "; made by " + owners(p) + ". refused: nothing listens there (or a"
                                    + " firewall rejects); timeout: SYNs unanswered; unreachable: no route; reset: an RST"
                                    + " answered the SYN."));
                }
            }
            window.end();
            return out;
        }
    }

    /**
     * Segments retransmitted over segments sent within the window, towards one destination
     * and on one listener's connections (its SYN-ACKs are synFlood's); quiet below minSegments.
     */
    static final class RetransmitRatio implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        RetransmitRatio(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof RetransmitRatio p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        private record Ratio(long retransmits, long segments, double value) {}

        private Ratio ratio(Object id, long now, io.tcpulse.agent.aggregate.Carried c, long wm) {
            long retrans = window.increase(List.of(id, "retransmits"), now, c.retransmits(), wm);
            long segments = window.increase(List.of(id, "segments"), now, c.segmentsSent(), wm);
            boolean enough = segments >= (long) settings.number("minSegments");
            return new Ratio(retrans, segments, enough ? Math.min(1, (double) retrans / segments) : Double.NaN);
        }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Duration w = settings.duration("window");
            long wm = w.toMillis();
            List<Sample> out = new ArrayList<>();
            window.begin();
            for (var e : s.peers().entrySet()) {
                for (PeerReport p : e.getValue()) {
                    SortedMap<String, String> id = Sample.labels("netns", e.getKey(), "remote", p.remote());
                    Ratio r = ratio(id, now, p.carried(), wm);
                    if (Double.isNaN(r.value())) continue;
                    out.add(new Sample(id, ownerLabels(p), r.value(), null,
                            "Retransmits towards " + p.remote() + ": " + percent(r.value()) + " of segments",
                            r.retransmits() + " of the " + r.segments() + " segments sent to " + p.remote() + " (netns "
                                    + e.getKey() + ") in the last " + dur(w) + " were retransmissions, on connections of "
                                    + owners(p) + ": loss or congestion on the path, or an overloaded receiver."));
                }
            }
            Set<List<Object>> ports = new HashSet<>(); // a port's connections are counted once, however many listeners share it
            for (ListenerStatus l : s.listenerStatus()) {
                if (!ports.add(List.of(l.netns(), l.port()))) continue;
                SortedMap<String, String> id = listenerId(l);
                Ratio r = ratio(id, now, l.children().carried(), wm);
                if (Double.isNaN(r.value())) continue;
                String where = endpoint(l.addr(), l.port());
                out.add(new Sample(id, ownerLabels(l.owner()), r.value(), null,
                        "Retransmits on " + where + ": " + percent(r.value()) + " of segments (" + owner(l.owner()) + ")",
                        r.retransmits() + " of the " + r.segments() + " segments the connections accepted on " + where
                                + " (netns " + l.netns() + ", " + owner(l.owner()) + ") sent in the last " + dur(w)
                                + " were retransmissions: loss or congestion towards its clients."));
            }
            window.end();
            return out;
        }
    }

    static String percent(double ratio) {
        return num(ratio * 100) + "%";
    }

    // ---- the agent itself ----

    /** Events the agent lost: ring buffer full, BPF map full, records it could not decode. */
    static final class EventsLost implements Rule {
        private final AlertsConfig.Rule settings;
        private final CounterWindow window;

        EventsLost(AlertsConfig.Rule settings, Rule previous) {
            this.settings = settings;
            this.window = previous instanceof EventsLost p ? p.window : new CounterWindow();
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override public Duration warmup() { return settings.duration("window"); }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Health h = s.health();
            Duration w = settings.duration("window");
            window.begin();
            long lost = window.increase("lost", now, h.lost(), w.toMillis());
            long mapFull = window.increase("mapFull", now, h.mapFull(), w.toMillis());
            long decode = window.increase("decode", now, h.decodeErrors(), w.toMillis());
            window.end();
            long n = lost + mapFull + decode;
            return List.of(new Sample(Sample.labels("component", "probe"), new TreeMap<>(), n, null,
                    "tcpulse lost " + n + " kernel events in the last " + dur(w),
                    "In the last " + dur(w) + " the agent lost " + lost + " events to full ring buffers, " + mapFull
                            + " updates to full BPF maps and " + decode + " records it could not decode: per-event"
                            + " views (latency, recent events) are incomplete; counters stay exact. Raise"
                            + " probe.ringBytes or set probe.maxEventsPerSec."));
        }
    }

    /** The probe is enabled but not attached. */
    static final class ProbeUnavailable implements Rule {
        private final AlertsConfig.Rule settings;
        private final boolean probeExpected;

        ProbeUnavailable(AlertsConfig.Rule settings, boolean probeExpected) {
            this.settings = settings;
            this.probeExpected = probeExpected;
        }

        @Override public AlertsConfig.Rule settings() { return settings; }

        @Override
        public List<Sample> evaluate(Snapshot s, long now) {
            Health h = s.health();
            boolean on = probeExpected && !h.probeAvailable();
            return List.of(new Sample(Sample.labels("component", "probe"), new TreeMap<>(), on ? 1 : 0, on,
                    "tcpulse runs without its eBPF probe",
                    "The eBPF probe is not attached (" + (h.cause() == null ? "no cause given" : h.cause())
                            + "): the agent reads /proc only (mode " + h.mode() + "), without per-listener overflows,"
                            + " latency or events."));
        }
    }
}
