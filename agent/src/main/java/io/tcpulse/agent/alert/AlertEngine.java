package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.config.AlertsConfig;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Evaluates the rules against a snapshot and keeps each alert's state, the way Prometheus
 * does: a condition that holds makes the alert PENDING; once it has held for the rule's
 * `for:` it is FIRING and announced; while it fires it is announced again every
 * repeatInterval; when it clears it is RESOLVED and announced once more.
 *
 * Hysteresis: a thresholded alert becomes pending at value >= threshold and stays
 * (pending or firing) until value < clearBelow. A culprit that disappears from the
 * snapshot (a listener closed) clears too.
 *
 * Time comes from the injected clock only; {@link #evaluate} is the whole engine, called
 * by one thread at the evaluation interval (tests call it directly).
 */
public final class AlertEngine {
    private static final System.Logger LOG = System.getLogger(AlertEngine.class.getName());
    static final int RECENT_LIMIT = 100;

    public enum State { PENDING, FIRING, RESOLVED }

    /** One alert as readers see it (API, state file). since: when its condition began. */
    public record AlertView(String rule, State state, SortedMap<String, String> identity,
                            SortedMap<String, String> labels, Map<String, String> annotations, double value,
                            Instant since, Instant firedAt, Instant lastNotified, Instant resolvedAt,
                            String fingerprint) {}

    /** Published after each evaluation; newest first in recent. */
    public record View(List<AlertView> pending, List<AlertView> firing, List<AlertView> recent) {
        static final View EMPTY = new View(List.of(), List.of(), List.of());
    }

    /** Where notifications go; returns once the notification is safe (on disk). */
    public interface Sink {
        void accept(Notification n) throws Exception;
    }

    /** Keeps firing alerts across restarts. */
    public interface StateStore {
        void save(List<AlertView> firing, List<AlertView> recent) throws Exception;
    }

    private static final class Alert {
        final String key;
        final String rule;
        final SortedMap<String, String> identity;
        final SortedMap<String, String> groupLabels;
        final String fingerprint;
        SortedMap<String, String> labels;
        Map<String, String> annotations;
        double value;
        State state = State.PENDING;
        Instant since, firedAt, lastNotified, resolvedAt;
        Instant graceUntil; // restored after a restart: not cleared for lack of data before this

        Alert(String key, String rule, SortedMap<String, String> identity, SortedMap<String, String> groupLabels) {
            this.key = key;
            this.rule = rule;
            this.identity = identity;
            this.groupLabels = groupLabels;
            this.fingerprint = fingerprint(groupLabels);
        }

        AlertView view() {
            return new AlertView(rule, state, identity, labels, annotations, value, since, firedAt, lastNotified,
                    resolvedAt, fingerprint);
        }
    }

    private AlertsConfig config;          // these three change only on reload, under this engine's lock
    private volatile List<Rule> rules;
    private StateStore store;
    private final InstantSource clock;
    private final SortedMap<String, String> externalLabels;
    private final Sink sink;
    private final Instant started;
    private final Map<String, Alert> active = new LinkedHashMap<>();
    private final ArrayDeque<AlertView> recent = new ArrayDeque<>();
    private volatile View view = View.EMPTY;

    /**
     * @param externalLabels added to every alert (host=...)
     * @param store          null: nothing survives a restart
     */
    public AlertEngine(AlertsConfig config, List<Rule> rules, InstantSource clock, Map<String, String> externalLabels,
                       Sink sink, StateStore store) {
        this.config = config;
        this.rules = List.copyOf(rules);
        this.clock = clock;
        this.externalLabels = Collections.unmodifiableSortedMap(new TreeMap<>(externalLabels));
        this.sink = sink;
        this.store = store;
        this.started = clock.instant();
    }

    public List<Rule> rules() { return rules; }

    /**
     * New rules and settings (a reload): pending and firing alerts carry over, judged by
     * the new settings from the next evaluation on; those of a rule now disabled or gone
     * resolve at the next evaluation. store: where firing alerts are kept from now on.
     */
    public synchronized void reconfigure(AlertsConfig config, List<Rule> rules, StateStore store) {
        this.config = config;
        this.rules = List.copyOf(rules);
        this.store = store;
    }

    public View view() { return view; }

    /**
     * Takes back what the state file kept: firing alerts stay firing without a new
     * announcement, and are not cleared for lack of data before their rule's warm-up
     * (its window) and one evaluation have passed.
     */
    public synchronized void restore(List<AlertView> firing, List<AlertView> resolved) {
        for (AlertView v : firing) {
            SortedMap<String, String> group = groupLabels(v.rule(), v.identity());
            Alert a = new Alert(key(v.rule(), v.identity()), v.rule(), v.identity(), group);
            a.labels = v.labels();
            a.annotations = v.annotations();
            a.value = v.value();
            a.state = State.FIRING;
            a.since = v.since();
            a.firedAt = v.firedAt();
            a.lastNotified = v.lastNotified();
            Duration warmup = rules.stream().filter(r -> r.name().equals(v.rule())).findFirst()
                    .map(Rule::warmup).orElse(Duration.ZERO);
            a.graceUntil = started.plus(warmup).plus(config.evaluationInterval());
            active.put(a.key, a);
        }
        for (int i = resolved.size() - 1; i >= 0; i--) remember(resolved.get(i));
        publish();
    }

    /** One evaluation of every rule against the snapshot. */
    public synchronized void evaluate(Snapshot snapshot) {
        Instant now = clock.instant();
        boolean changed = false;
        Set<String> ruleNames = new HashSet<>();
        for (Rule rule : rules) {
            ruleNames.add(rule.name());
            List<Sample> samples;
            try {
                samples = rule.evaluate(snapshot, now.toEpochMilli());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "rule " + rule.name() + " failed; its alerts keep their state", e);
                continue;
            }
            Set<String> seen = new HashSet<>();
            List<Sample> fresh = new ArrayList<>();
            for (Sample s : samples) {
                String key = key(rule.name(), s.identity());
                if (!seen.add(key)) continue; // one culprit, one sample
                if (active.containsKey(key)) changed |= step(rule, s, key, now);
                else fresh.add(s);
            }
            // alerts already kept go first; new culprits only while the rule is under its cap
            int cap = config.maxFiringPerRule();
            String othersKey = key(rule.name(), OTHERS);
            int kept = 0;
            for (Alert a : active.values()) if (a.rule.equals(rule.name()) && !a.key.equals(othersKey)) kept++;
            long over = 0;
            for (Sample s : fresh) {
                if (!holds(rule, s, false)) continue;
                if (kept >= cap) {
                    over++;
                    continue;
                }
                changed |= step(rule, s, key(rule.name(), s.identity()), now);
                kept++;
            }
            seen.remove(othersKey);
            if (over > 0) {
                seen.add(othersKey);
                changed |= step(rule, others(rule, over, cap), othersKey, now);
            }
            changed |= clearMissing(rule.name(), seen, now);
        }
        // alerts restored from the state file, or kept over a reload, whose rule is now disabled
        for (Iterator<Alert> it = active.values().iterator(); it.hasNext(); ) {
            Alert a = it.next();
            if (ruleNames.contains(a.rule)) continue;
            it.remove();
            if (a.state == State.FIRING) {
                resolve(a, now);
                changed = true;
            }
        }
        publish();
        if (changed && store != null) {
            try {
                store.save(view.firing(), view.recent());
            } catch (Exception e) {
                LOG.log(System.Logger.Level.ERROR, "cannot save alert state: firing alerts may be announced again after a restart", e);
            }
        }
    }

    /** The identity of a rule's aggregate alert: the culprits past alerts.maxFiringPerRule. */
    static final SortedMap<String, String> OTHERS = Collections.unmodifiableSortedMap(new TreeMap<>(Map.of("culprit", "others")));

    private static Sample others(Rule rule, long over, int cap) {
        return new Sample(OTHERS, new TreeMap<>(), over, true,
                over + " more culprit(s) of " + rule.name() + " past the cap of " + cap + " alerts",
                "The rule holds for " + over + " more culprit(s) than the " + cap
                        + " alerts it keeps (alerts.maxFiringPerRule); see the API and /metrics for them.");
    }

    /** Whether the sample's condition holds: for a new alert (threshold) or a kept one (clearBelow). */
    private static boolean holds(Rule rule, Sample s, boolean kept) {
        if (s.condition() != null) return s.condition();
        if (Double.isNaN(s.value())) return false;
        return s.value() >= (kept ? rule.settings().clearBelow() : rule.settings().threshold());
    }

    /** Advances one alert with its sample; true when it was announced or resolved. */
    private boolean step(Rule rule, Sample s, String key, Instant now) {
        AlertsConfig.Rule cfg = rule.settings();
        Alert a = active.get(key);
        boolean on = holds(rule, s, a != null);
        if (a == null) {
            if (!on) return false;
            a = new Alert(key, rule.name(), s.identity(), groupLabels(rule.name(), s.identity()));
            a.since = now;
            active.put(key, a);
        }
        if (on) { // as in Prometheus, a resolved alert keeps the figures of its last active evaluation
            a.value = s.value();
            a.annotations = s.annotations();
            a.labels = labels(cfg, s);
        }
        if (!on) {
            if (a.graceUntil != null && now.isBefore(a.graceUntil)) return false;
            active.remove(key);
            if (a.state != State.FIRING) return false;
            resolve(a, now);
            return true;
        }
        a.graceUntil = null; // it has data again
        if (a.state == State.PENDING && !now.isBefore(a.since.plus(cfg.forDuration()))) {
            a.state = State.FIRING;
            a.firedAt = now;
            notify(a, Notification.FIRING, false, now);
            return true;
        }
        if (a.state == State.FIRING && !now.isBefore(a.lastNotified.plus(cfg.repeatInterval()))) {
            notify(a, Notification.FIRING, true, now);
            return true;
        }
        return false;
    }

    private boolean clearMissing(String rule, Set<String> seen, Instant now) {
        boolean changed = false;
        for (Iterator<Alert> it = active.values().iterator(); it.hasNext(); ) {
            Alert a = it.next();
            if (!a.rule.equals(rule) || seen.contains(a.key)) continue;
            if (a.graceUntil != null && now.isBefore(a.graceUntil)) continue;
            it.remove();
            if (a.state == State.FIRING) {
                resolve(a, now);
                changed = true;
            }
        }
        return changed;
    }

    private void resolve(Alert a, Instant now) {
        a.state = State.RESOLVED;
        a.resolvedAt = now;
        notify(a, Notification.RESOLVED, false, now);
        remember(a.view());
    }

    private void notify(Alert a, String status, boolean repeat, Instant now) {
        a.lastNotified = now;
        Notification n = new Notification(UUID.randomUUID().toString(), status, a.rule, a.labels, a.annotations,
                a.groupLabels, a.since, status.equals(Notification.RESOLVED) ? now : null, a.fingerprint, a.value,
                repeat, now);
        LOG.log(System.Logger.Level.INFO, "alert {0} {1}{2} {3}: {4}", a.rule, status, repeat ? " (repeat)" : "",
                a.identity, a.annotations.get("summary"));
        try {
            sink.accept(n);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.ERROR, "alert " + a.rule + " " + a.identity + " could not be queued for delivery", e);
        }
    }

    private void remember(AlertView v) {
        recent.addFirst(v);
        while (recent.size() > RECENT_LIMIT) recent.removeLast();
    }

    private void publish() {
        List<AlertView> pending = new ArrayList<>(), firing = new ArrayList<>();
        for (Alert a : active.values()) (a.state == State.FIRING ? firing : pending).add(a.view());
        view = new View(List.copyOf(pending), List.copyOf(firing), List.copyOf(recent));
    }

    // ---- labels ----

    private SortedMap<String, String> labels(AlertsConfig.Rule cfg, Sample s) {
        SortedMap<String, String> l = new TreeMap<>(externalLabels);
        l.putAll(s.details());
        l.putAll(s.identity());
        l.put("alertname", cfg.name());
        l.put("severity", cfg.severity());
        return Collections.unmodifiableSortedMap(l);
    }

    private SortedMap<String, String> groupLabels(String rule, SortedMap<String, String> identity) {
        SortedMap<String, String> g = new TreeMap<>(externalLabels);
        g.putAll(identity);
        g.put("alertname", rule);
        return Collections.unmodifiableSortedMap(g);
    }

    private static String key(String rule, SortedMap<String, String> identity) {
        return rule + '\0' + identity;
    }

    /** 16 hex digits over the sorted group labels, like Alertmanager's fingerprints. */
    static String fingerprint(SortedMap<String, String> labels) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            labels.forEach((k, v) -> {
                md.update(k.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0xff);
                md.update(v.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0xff);
            });
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
