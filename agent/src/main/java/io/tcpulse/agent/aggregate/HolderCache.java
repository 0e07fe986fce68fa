package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.probe.HolderDecoder;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The last holders walk (who holds which socket, which namespaces processes keep), taken
 * only when something asks: a CLOSE_WAIT socket or a listener to name, namespaces whose
 * end is in question. Reused while younger than {@link #MAX_AGE_NS}; an unknown socket
 * makes a new one at most every {@link #MIN_INTERVAL_NS}; both stretch with a walk's size
 * (100k sockets: about 0.1 s), to 30 s and 10 s at most, so the kernel's walks cost under 1%
 * of a core up to about 120k sockets and owners are never more than 30 s stale.
 * Probe thread only.
 */
public final class HolderCache {
    /** Holders change (fork, descriptor passing) without a state change: looked at again this often while needed. */
    static final long MAX_AGE_NS = TimeUnit.SECONDS.toNanos(10);
    /** A socket the last walk did not list makes a new walk at most this often. */
    static final long MIN_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    /* how far long walks stretch both: owners stay at most this stale */
    static final long MAX_AGE_CAP_NS = TimeUnit.SECONDS.toNanos(30), MIN_INTERVAL_CAP_NS = TimeUnit.SECONDS.toNanos(10);
    /*
     * What a walk is taken to cost per record (docs/design.md#owners): the kernel's walk and
     * its decode 2.5 us, as first measured with 100k sockets (since the decode went to flat
     * arrays, about 1 us: kept at 2.5 so owners cost under 1% of a core), a /proc scan about
     * 15 us per socket. From the size, not the last duration: a cold JVM or a busy host
     * would stretch it for nothing.
     */
    static final long KERNEL_NS_PER_RECORD = 2_500, PROC_NS_PER_RECORD = 15_000;

    /** A holders walk; null when the kernel offers none (feature off, no probe). */
    public interface Source {
        HolderDecoder.Walk walk() throws Exception;
    }

    private final LongSupplier nanoTime;
    private Source source;
    private StepGuard guard = StepGuard.UNGUARDED;
    private HolderDecoder.Walk last;
    private long atNs;
    private boolean unavailable;
    private long walks;
    private long lastWalkNs;
    private long lastWalkWallMs;
    private boolean lastComplete;

    public HolderCache(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    public void source(Source source) {
        this.source = source;
        this.unavailable = source == null;
        this.last = null;
    }

    /**
     * The kernel's walk first; where it offers none (returns null: the feature is off),
     * the source set so far (the /proc scan).
     */
    public void preferKernel(Source kernel) {
        Source fallback = source;
        source(() -> {
            HolderDecoder.Walk w = kernel.walk();
            return w != null || fallback == null ? w : fallback.walk();
        });
    }

    void guard(StepGuard guard) {
        this.guard = guard;
    }

    /** Whether a holders walk is to be had at all (the kernel's or /proc's); false: the probe's owners alone. */
    public boolean available() {
        return !unavailable;
    }

    /** A walk at most maxAgeNs old, taking one if needed; null when unavailable or failing. */
    public HolderDecoder.Walk atMost(long maxAgeNs) {
        if (unavailable) return null;
        if (last == null || nanoTime.getAsLong() - atNs > maxAgeNs) refresh();
        return last;
    }

    /** The walk for naming sockets: at most {@link #MAX_AGE_NS} old, longer where walks are long. */
    public HolderDecoder.Walk current() {
        return atMost(stretch(MAX_AGE_NS, 100, MAX_AGE_CAP_NS)); // 1% of a core up to 120k records
    }

    /** A fresh walk for a socket the current one does not list, unless one was taken within MIN_INTERVAL_NS. */
    public HolderDecoder.Walk newerThan(long monoNs) {
        if (unavailable || last == null || atNs - monoNs > 0) return last;
        // a /proc scan (incomplete) costs more and misses sockets anyway: no sooner than its age allows
        long interval = last.complete() ? stretch(MIN_INTERVAL_NS, 50, MIN_INTERVAL_CAP_NS) : MAX_AGE_NS; // 2% of a core
        if (nanoTime.getAsLong() - atNs < interval) return last;
        refresh();
        return last;
    }

    /** base, or walks times the last walk's expected duration where that is longer, at most cap. */
    private long stretch(long base, long walks, long cap) {
        if (last == null) return base;
        long perRecord = last.complete() ? KERNEL_NS_PER_RECORD : PROC_NS_PER_RECORD;
        return Math.max(base, Math.min(cap, last.records() * perRecord * walks));
    }

    /** CLOCK_MONOTONIC ns when the last walk was taken (bpf_ktime_get_ns and System.nanoTime share it). */
    public long takenAtNs() {
        return atNs;
    }

    /** Walks taken so far, and how long the last one took (ns): tests and the docs' cost figures. */
    public long walks() { return walks; }

    public long lastWalkNs() { return lastWalkNs; }

    /** For /api/v1/health: where holders came from and what the walks cost. */
    public Health.Holders stats() {
        String source = walks == 0 ? (unavailable ? "none" : "not yet") : lastComplete ? "kernel" : "proc";
        return new Health.Holders(source, walks, lastWalkNs / 1000, lastWalkWallMs);
    }

    private void refresh() {
        long start = nanoTime.getAsLong();
        // empty: the kernel offers no holders walk; null: this one failed (counted by the guard)
        java.util.Optional<HolderDecoder.Walk> w = guard.attempt(OwnerResolver.STEP,
                () -> java.util.Optional.ofNullable(source.walk()), null);
        if (w == null) return; // failed: the last walk stands, retried at the next need
        if (w.isEmpty()) {
            unavailable = true; // not a failure: /proc from now on
            last = null;
            return;
        }
        last = w.get();
        atNs = start; // what the walk shows was true at least from its start
        walks++;
        lastWalkNs = nanoTime.getAsLong() - start;
        lastWalkWallMs = System.currentTimeMillis();
        lastComplete = last.complete();
    }
}
