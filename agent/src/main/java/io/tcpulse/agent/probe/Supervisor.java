package io.tcpulse.agent.probe;

import io.tcpulse.agent.aggregate.StepGuard;
import io.tcpulse.agent.host.Exhaustion;
import io.tcpulse.agent.model.ProbeError;
import io.tcpulse.agent.model.ProbeOutage;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps each step of the probe loop going on its own. A step that fails is counted by
 * cause (errno name, else exception class), logged once per cause, and tried again after
 * a backoff (100 ms doubling to 10 s, back to 100 ms on success) while the other steps
 * keep their pace. Collection is out while a collecting step has not succeeded since it
 * first failed; that outage is what /api/v1/health reports and what, past
 * probe.maxOutage, makes the agent exit for its supervisor to restart it.
 *
 * Confined to the probe thread (and to the thread that runs the first walk before it
 * starts), except the test hook.
 */
final class Supervisor implements StepGuard {
    private static final Logger LOG = Logger.getLogger(ProbeLoop.class.getName());

    static final long BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 10_000;
    /** The same cause of the same step is logged again after this long, with its count. */
    static final long RELOG_NANOS = TimeUnit.MINUTES.toNanos(10);
    /** Causes kept per agent (and metric series): beyond it, new ones are counted as "other". */
    static final int MAX_CAUSES = 64;
    private static final int MAX_MESSAGE = 500;

    static {
        // what a failure is handled with, loaded now: loading a class may need a descriptor,
        // and a failure may be running out of them
        for (Class<?> c : new Class<?>[] {Exhaustion.class, ProbeError.class, ProbeOutage.class, ProbeException.class,
                Errno.class, Cause.class, State.class}) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    /** The steps of the probe loop; {@code collects}: while it fails, collection is out. */
    enum Step {
        DRAIN("drain", true),       // the ring buffers into the aggregator
        WALK("walk", true),         // every namespace's sockets, its counters and sysctls
        OWNERS("owners", false),    // /proc fd scans and cgroup names: a failure leaves owners unnamed
        COUNTERS("counters", true), // the kernel's exact counters and health stats
        PUBLISH("publish", true);   // a new snapshot for the API, metrics and alerts

        final String label;
        final boolean collects;

        Step(String label, boolean collects) {
            this.label = label;
            this.collects = collects;
        }

        static Step of(String label) {
            for (Step s : values()) if (s.label.equals(label)) return s;
            throw new IllegalArgumentException("no probe loop step " + label);
        }
    }

    /** Test seam: called before each step runs; throwing makes the step fail. */
    interface Hook {
        void before(Step step) throws Exception;
    }

    private static final class State {
        long backoffMs = BACKOFF_MIN_MS;
        long lastRetryMs;
        long retryAtNanos;
        int streak;                 // failures since the last success
        long failingSinceNanos, failingSinceMillis;
        boolean loggedThisStreak;
        Cause current;
    }

    private static final class Cause {
        final Step step;
        final String errno;
        long count, lastMillis;
        String message;
        boolean logged;
        long loggedAtNanos;

        Cause(Step step, String errno) {
            this.step = step;
            this.errno = errno;
        }
    }

    private final LongSupplier nanoTime, wallMillis;
    private final long maxOutageMillis;
    private final Map<Step, State> states = new EnumMap<>(Step.class);
    private final Map<String, Cause> causes = new LinkedHashMap<>();
    private volatile Hook hook;
    private List<ProbeError> view = List.of();
    private boolean changed;

    Supervisor(long maxOutageMillis, LongSupplier nanoTime, LongSupplier wallMillis) {
        this.maxOutageMillis = maxOutageMillis;
        this.nanoTime = nanoTime;
        this.wallMillis = wallMillis;
        for (Step s : Step.values()) states.put(s, new State());
    }

    void hook(Hook hook) {
        this.hook = hook;
    }

    /** Whether the step may run now: it has not failed, or its backoff is over. */
    boolean due(Step step, long nowNanos) {
        State st = states.get(step);
        return st.streak == 0 || nowNanos - st.retryAtNanos >= 0;
    }

    /** When the step may run next: now, or when its backoff is over. */
    long dueAtNanos(Step step, long nowNanos) {
        State st = states.get(step);
        return st.streak == 0 ? nowNanos : st.retryAtNanos;
    }

    /** Runs body as step when it is due: its result, or orElse when it failed or is not due. */
    <T> T attempt(Step step, Callable<T> body, T orElse) {
        if (!due(step, nanoTime.getAsLong())) return orElse;
        T result;
        try {
            Hook h = hook;
            if (h != null) h.before(step);
            result = body.call();
        } catch (Throwable t) { // any failure, errors included: the loop must outlive it
            backOff(step);
            try {
                record(step, t);
            } catch (Throwable unrecorded) {
                // no memory or class to describe it with: the step still waits its backoff
            }
            return orElse;
        }
        succeeded(step);
        return result;
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs body as step when it is due; true when it ran and succeeded. */
    boolean run(Step step, Body body) {
        return attempt(step, () -> {
            body.run();
            return Boolean.TRUE;
        }, Boolean.FALSE);
    }

    @Override
    public <T> T attempt(String step, Callable<T> body, T orElse) {
        return attempt(Step.of(step), body, orElse);
    }

    private void succeeded(Step step) {
        State st = states.get(step);
        if (st.streak > 0) {
            if (st.loggedThisStreak) {
                try {
                    LOG.info("probe step " + step.label + " recovered after " + st.streak + " failure(s) in "
                            + seconds(wallMillis.getAsLong() - st.failingSinceMillis));
                } catch (RuntimeException e) {
                    // a log line is not worth a step
                }
            }
            st.streak = 0;
            st.current = null;
            changed = true;
        }
        st.backoffMs = BACKOFF_MIN_MS;
    }

    /** The failure's bookkeeping that allocates nothing: the streak and when to try again. */
    private void backOff(Step step) {
        long now = nanoTime.getAsLong();
        State st = states.get(step);
        if (st.streak == 0) {
            st.failingSinceNanos = now;
            st.failingSinceMillis = wallMillis.getAsLong();
            st.loggedThisStreak = false;
        }
        st.streak++;
        st.lastRetryMs = st.backoffMs;
        st.retryAtNanos = now + st.backoffMs * 1_000_000L;
        st.backoffMs = Math.min(st.backoffMs * 2, BACKOFF_MAX_MS);
    }

    /** The failure's cause: counted, kept for the health report, logged once. */
    private void record(Step step, Throwable t) {
        long now = nanoTime.getAsLong(), wall = wallMillis.getAsLong();
        State st = states.get(step);
        long retryMs = st.lastRetryMs;
        String errno = errnoOf(t);
        Cause c = causes.get(step.label + "/" + errno);
        if (c == null && causes.size() >= MAX_CAUSES) {
            errno = "other";
            c = causes.get(step.label + "/" + errno);
        }
        if (c == null) causes.put(step.label + "/" + errno, c = new Cause(step, errno));
        c.count++;
        c.lastMillis = wall;
        c.message = messageOf(t);
        st.current = c;
        changed = true;
        if (!c.logged || now - c.loggedAtNanos >= RELOG_NANOS) {
            boolean again = c.logged;
            c.logged = true;
            c.loggedAtNanos = now;
            st.loggedThisStreak = true;
            String text = "probe step " + step.label + " failed (" + c.errno + "): " + c.message
                    + (again ? " [" + c.count + " times so far]" : "")
                    + "; retrying in " + retryMs + " ms, backing off to " + BACKOFF_MAX_MS / 1000 + " s; "
                    + (step.collects ? "the other steps go on" : "owners stay unnamed meanwhile")
                    + " (logged once per cause; tcpulse_probe_errors_total counts each)";
            // a failure with an errno is the system's; one without is a bug: its stack trace helps
            if (hasErrno(t)) LOG.warning(text);
            else LOG.log(Level.SEVERE, text, t);
        }
    }

    /** Every cause seen, its count, and whether it is its step's current failure. */
    List<ProbeError> errors() {
        if (!changed) return view;
        List<ProbeError> out = new ArrayList<>(causes.size());
        for (Cause c : causes.values()) {
            out.add(new ProbeError(c.step.label, c.errno, c.count, c.lastMillis, c.message, states.get(c.step).current == c));
        }
        view = List.copyOf(out);
        changed = false;
        return view;
    }

    /** The collecting step failing the longest, or null while every one succeeds. */
    ProbeOutage outage() {
        State oldest = null;
        for (Step s : Step.values()) {
            State st = states.get(s);
            if (s.collects && st.streak > 0 && (oldest == null || st.failingSinceNanos - oldest.failingSinceNanos < 0)) {
                oldest = st;
            }
        }
        if (oldest == null) return null;
        Cause c = oldest.current;
        long exitAt = maxOutageMillis > 0 ? oldest.failingSinceMillis + maxOutageMillis : 0;
        if (c == null) { // its cause could not be recorded (out of memory)
            Step s = stepOf(oldest);
            return new ProbeOutage(s.label, "unknown", oldest.failingSinceMillis, "failing; its cause could not be recorded", exitAt);
        }
        return new ProbeOutage(c.step.label, c.errno, oldest.failingSinceMillis, c.message, exitAt);
    }

    private Step stepOf(State st) {
        for (Map.Entry<Step, State> e : states.entrySet()) if (e.getValue() == st) return e.getKey();
        throw new IllegalStateException("no step has this state");
    }

    /** When the outage began on the monotonic clock (valid while {@link #outage()} is not null). */
    long outageSinceNanos() {
        long since = 0;
        boolean any = false;
        for (Step s : Step.values()) {
            State st = states.get(s);
            if (s.collects && st.streak > 0 && (!any || st.failingSinceNanos - since < 0)) {
                since = st.failingSinceNanos;
                any = true;
            }
        }
        return since;
    }

    /** "EMFILE" for a failure with an errno (from the kernel or the JDK), else the exception's class. */
    static String errnoOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ProbeException p && p.errno() > 0) return Errno.name(p.errno());
        }
        String exhausted = Exhaustion.errno(t);
        return exhausted != null ? exhausted : t.getClass().getSimpleName();
    }

    private static boolean hasErrno(Throwable t) {
        return !errnoOf(t).equals(t.getClass().getSimpleName());
    }

    private static String messageOf(Throwable t) {
        // a wrapper made from its cause alone (new UncheckedIOException(e)) says no more than the cause
        while (t.getCause() != null && (t.getMessage() == null || t.getMessage().equals(t.getCause().toString()))) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        return m.length() <= MAX_MESSAGE ? m : m.substring(0, MAX_MESSAGE) + "...";
    }

    private static String seconds(long millis) {
        return String.format(java.util.Locale.ROOT, "%.1f s", millis / 1000.0);
    }
}
