package io.tcpulse.agent.probe;

import com.sun.jna.Memory;
import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.aggregate.HolderCache;
import io.tcpulse.agent.aggregate.WalkAccumulator;
import io.tcpulse.agent.host.Exhaustion;
import io.tcpulse.agent.host.NetnsDiscovery;
import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.host.NetnsInfoReader;
import io.tcpulse.agent.host.ProcSnapshotter;
import io.tcpulse.agent.model.ProbeOutage;
import io.tcpulse.agent.model.ProgramCost;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;
import io.tcpulse.agent.probe.Supervisor.Step;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Logger;

/**
 * The one thread that talks to the kernel: drains the rings (asleep in poll() until a
 * step is due or a ring fills), reads the exact counters, walks every namespace's
 * sockets periodically, and feeds the aggregator (its single writer). Without a probe
 * it walks /proc instead.
 *
 * Each step runs under a {@link Supervisor}: a failure is counted, logged once per cause
 * and retried with backoff while the other steps go on (a failing walk never stops the
 * drain). Only when collection has been out for {@link Settings#maxOutageMillis} does
 * the loop call its outage handler, which exits the agent for systemd to restart it.
 */
public final class ProbeLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ProbeLoop.class.getName());

    /** @param maxOutageMillis collection out this long calls the outage handler; 0: never */
    public record Settings(int tickMs, int batchEvents, long walkIntervalMs, long publishIntervalMs, long maxOutageMillis) {
        public static final long DEFAULT_MAX_OUTAGE_MILLIS = TimeUnit.MINUTES.toMillis(5);

        public Settings(int tickMs, int batchEvents, long walkIntervalMs, long publishIntervalMs) {
            this(tickMs, batchEvents, walkIntervalMs, publishIntervalMs, DEFAULT_MAX_OUTAGE_MILLIS);
        }

        public static Settings defaults() { return new Settings(5, 16384, 2000, 200); }
    }

    /** What to do when collection has been out for too long: the agent exits (Main). */
    public interface OutageHandler {
        void onOutage(ProbeOutage outage);
    }

    private final Probe probe; // null: degraded, /proc only
    private final Aggregator aggregator;
    private final Settings settings;
    private final OutageHandler onOutage;
    private final Supervisor supervisor;
    private final NetnsDiscovery discovery = new NetnsDiscovery();
    private final ProcSnapshotter procSnapshotter = new ProcSnapshotter();
    private final Set<Long> unwalkable = new HashSet<>();
    private final Thread thread;
    private final Thread watchdog;
    private volatile boolean running = true;
    /* what the watchdog reads: the loop's last pass, and the outage the loop last saw */
    private volatile long heartbeatNanos = System.nanoTime();
    private volatile ProbeOutage outage;
    private volatile long outageSinceNanos;
    private volatile Step inStep;

    /** A loop whose outages are only logged. */
    public ProbeLoop(Probe probe, Aggregator aggregator, Settings settings) {
        this(probe, aggregator, settings, o -> { });
    }

    public ProbeLoop(Probe probe, Aggregator aggregator, Settings settings, OutageHandler onOutage) {
        this.probe = probe;
        this.aggregator = aggregator;
        this.settings = settings;
        this.onOutage = onOutage;
        this.supervisor = new Supervisor(settings.maxOutageMillis(), System::nanoTime, System::currentTimeMillis);
        aggregator.guardOwnerLookups(supervisor);
        if (probe != null) aggregator.holders().preferKernel(probe::holders);
        this.thread = new Thread(this::run, "tcpulse-probe");
        this.thread.setDaemon(true);
        this.watchdog = new Thread(this::watch, "tcpulse-probe-watchdog");
        this.watchdog.setDaemon(true);
    }

    public void start() {
        heartbeatNanos = System.nanoTime();
        thread.start();
        if (settings.maxOutageMillis() > 0) watchdog.start();
    }

    /**
     * Runs the first reconciliation walk on the caller's thread, before start(): the
     * agent is exact from its first answer. A failure is the walk step's like any other
     * (counted, logged, retried by the loop); returns whether it succeeded.
     */
    public boolean firstWalk() {
        boolean ok = supervisor.run(Step.WALK, this::walk);
        aggregator.setSupervision(supervisor.errors(), supervisor.outage());
        return ok;
    }

    /** Test seam: hook runs before every step (owner lookups included); throwing fails that step. */
    void beforeEachStep(Supervisor.Hook hook) {
        supervisor.hook(hook);
    }

    private long nextWalk, nextPublish;
    private boolean loopFailureLogged;

    private void run() {
        Memory buf = new Memory((long) settings.batchEvents() * EventDecoder.EVENT_SIZE);
        nextWalk = nextPublish = System.nanoTime();
        while (running) {
            try {
                pass(buf);
            } catch (Throwable t) { // the steps catch their own failures: this is the loop's own code failing
                if (!loopFailureLogged) {
                    loopFailureLogged = true;
                    try {
                        LOG.log(java.util.logging.Level.SEVERE, "probe loop pass failed; going on", t);
                    } catch (Throwable ignored) {
                        // nothing left to say it with
                    }
                }
                LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(Supervisor.BACKOFF_MIN_MS));
            }
        }
    }

    /*
     * Idle means asleep. While events flow the kernel wakes the consumer only when a ring
     * is past cfg_wakeup_bytes, and the drain blocks in poll() until the next step is due.
     * Once a wait found nothing, the next one asks the kernel to wake it at the first event
     * (TCPULSE_POLL_WAKE_ON_EVENT): a quiet host's thread sleeps until a step is really due
     * (a snapshot a second, the walk when something may have moved) instead of looking
     * every publishIntervalMs, and the first event after quiet is drained at once.
     */
    static final long MAX_POLL_MS = 1_000;
    /* steps due this close to now run in this pass: a quiet host's walk checks and snapshots share their wake-ups */
    private static final long SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private boolean drainedNothing;

    /** One pass: drain the rings until the next step is due, walk when due, publish when due. */
    private void pass(Memory buf) {
        long now = heartbeatNanos = System.nanoTime();
        long pause = 0;
        if (probe != null && supervisor.due(Step.DRAIN, now)) {
            inStep = Step.DRAIN;
            int timeoutMs = pollTimeoutMs(now);
            boolean wakeOnEvent = drainedNothing;
            int n = supervisor.attempt(Step.DRAIN, () -> drain(buf, timeoutMs, wakeOnEvent), -1);
            drainedNothing = n == 0;
            // a partial batch: let events gather for a tick instead of spinning on a trickle
            if (n > 0 && n < settings.batchEvents()) pause = TimeUnit.MILLISECONDS.toNanos(settings.tickMs());
            else if (n < 0) pause = untilDueNanos(now); // failed: its backoff runs
            if (n > 0) publishSooner();
        } else {
            pause = untilDueNanos(now);
        }
        now = System.nanoTime();
        long slack = drainedNothing ? SLACK_NANOS : 0; // only a sleeping thread has wake-ups to share
        if (now - nextWalk >= -slack && supervisor.due(Step.WALK, now)) {
            inStep = Step.WALK;
            if (supervisor.run(Step.WALK, this::walkUnlessQuiet)) {
                nextWalk = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settings.walkIntervalMs());
            } else {
                // failed: due again once its backoff is over (sooner than the next period); the loop sleeps till then
                nextWalk = supervisor.dueAtNanos(Step.WALK, System.nanoTime());
            }
            if (walkedSincePublish) publishSooner();
        }
        if (now - nextPublish >= -slack) {
            inStep = Step.PUBLISH;
            boolean changed = changedSincePublish();
            if (changed) {
                publish(true);
            } else if (now - publishedAtNanos >= TimeUnit.MILLISECONDS.toNanos(QUIET_PUBLISH_MS) - slack) {
                // the kernel saw nothing: its counters are those last read, but for the programs' run time
                publish(now - countersReadAtNanos >= TimeUnit.MILLISECONDS.toNanos(QUIET_COUNTERS_MS));
            }
            // nothing changed: the next snapshot is the once-a-second one, unless events come first
            nextPublish = changed ? now + TimeUnit.MILLISECONDS.toNanos(settings.publishIntervalMs())
                    : publishedAtNanos + TimeUnit.MILLISECONDS.toNanos(QUIET_PUBLISH_MS);
        }
        inStep = null;
        if (pause > 0 && running) LockSupport.parkNanos(this, pause);
    }

    /** Events came or a walk ran: the next snapshot within publishIntervalMs of the last, not at the quiet once-a-second. */
    private void publishSooner() {
        long publish = publishedAtNanos + TimeUnit.MILLISECONDS.toNanos(settings.publishIntervalMs());
        if (nextPublish - publish > 0) nextPublish = publish;
    }

    /*
     * A walk tells what events and counters cannot: sockets that change without a state
     * change (timewait sockets expire, request sockets come and go, accept() drains a
     * queue). When nothing happened since the last walk (no event, no transition, and in
     * each namespace it walked no TCP segment and the same number of timewait sockets) and
     * that walk found no request socket and no queue to drain, the next walk would find the
     * same: it waits, up to QUIET_REWALK_MS, which also bounds how late a namespace with no
     * TCP at all is seen to come or go. An idle host walks every QUIET_REWALK_MS, or
     * RECONCILE_COST_FACTOR times what the last walk took where that is longer (at most
     * RECONCILE_MAX_MS): such reconciliation walks cost at most 0.25% of a core. With
     * 100,000 sockets a walk (and naming its listeners' owners) takes 0.1-0.2 s here: a quiet
     * host walks every 40-80 s.
     */
    static final long QUIET_REWALK_MS = 10_000;
    static final long RECONCILE_COST_FACTOR = 400;
    static final long RECONCILE_MAX_MS = 300_000;
    private long walkedAtNanos, walkTookNanos;
    private long activityAtWalk = -1;

    private void walkUnlessQuiet() throws ProbeException {
        if (probe != null && activityAtWalk >= 0 && System.nanoTime() - walkedAtNanos < TimeUnit.MILLISECONDS.toNanos(reconcileMs())
                && (!aggregator.lastWalkMovesSilently() || aggregator.onlyAcceptQueuesMove())
                && activity(probe.transitions()) == activityAtWalk) {
            // nothing happened; accept() may still drain a queue without an event: the listeners tell
            if (aggregator.lastWalkMovesSilently()) walkListeners();
            else aggregator.onWalkSkipped();
            return;
        }
        walk();
    }

    /*
     * each namespace the last full walk walked, as it read their files (path null: the agent's
     * own, a pid inside): what activity() reads and a listeners-only walk walks again
     */
    private record Walked(long netns, long cookie, String path, int pid) {}
    private List<Walked> walkedNamespaces = List.of();

    /** Walks the listeners of the namespaces the last full walk walked, and nothing else. */
    private void walkListeners() throws ProbeException {
        long nowMs = System.currentTimeMillis();
        Map<Long, NetnsInfo> info = new HashMap<>();
        WalkAccumulator acc = new WalkAccumulator(Map.of());
        for (Walked w : walkedNamespaces) {
            try {
                collect(probe.walkListeners(w.path()), acc);
                info.put(w.netns(), info(w.netns(), w.cookie(), w.path(), w.pid(), nowMs));
            } catch (ProbeException e) {
                if (w.path() == null || Errno.isExhaustion(e.errno())) throw e;
                activityAtWalk = -1; // a namespace that went away: the full walk says what is left
            }
        }
        aggregator.onListenerWalk(acc.listeners(), info, probe.portCounters());
        walkedSincePublish = true;
    }

    /** The longest a quiet host goes without a walk now. */
    long reconcileMs() {
        long scaled = TimeUnit.NANOSECONDS.toMillis(walkTookNanos) * RECONCILE_COST_FACTOR;
        return Math.min(RECONCILE_MAX_MS, Math.max(QUIET_REWALK_MS, scaled));
    }

    /**
     * Events seen, transitions counted, and the TCP segments and timewait sockets of the
     * walked namespaces, added up: it moves with any activity (a timewait expiring too).
     */
    private long activity(List<TransitionCount> transitions) throws ProbeException {
        long n = probe.stats()[Probe.STAT_SEEN];
        for (TransitionCount t : transitions) n += t.count();
        for (Walked w : walkedNamespaces) {
            NetnsInfoReader.Files f = files(w.path(), w.pid());
            long segments = NetnsInfoReader.tcpSegments(f.read("/proc/thread-self/net/snmp"));
            long timewait = NetnsInfoReader.timewait(f.read("/proc/thread-self/net/sockstat"));
            if (segments < 0 || timewait < 0) return -1; // unreadable: no proof of quiet
            n += segments + (timewait << 40); // apart from the segments: an expiry and a segment do not cancel out
        }
        return n;
    }

    /** Until the walk or a publish is due: at most MAX_POLL_MS, and a quarter of maxOutage (the watchdog watches the beat). */
    private long untilDueNanos(long now) {
        long until = Math.min(nextWalk - now, nextPublish - now);
        long cap = TimeUnit.MILLISECONDS.toNanos(settings.maxOutageMillis() > 0
                ? Math.min(MAX_POLL_MS, Math.max(1, settings.maxOutageMillis() / 4)) : MAX_POLL_MS);
        return Math.max(0, Math.min(until, cap));
    }

    private int pollTimeoutMs(long now) {
        return (int) TimeUnit.NANOSECONDS.toMillis(untilDueNanos(now) + 999_999);
    }

    /**
     * One poll of the rings (blocking up to timeoutMs when they are empty, until the first
     * event with wakeOnEvent) into the aggregator; the events it handed over.
     */
    private int drain(Memory buf, int timeoutMs, boolean wakeOnEvent) throws ProbeException {
        int n = probe.poll(buf, timeoutMs, wakeOnEvent);
        if (n > 0) {
            eventsSincePublish += n;
            ByteBuffer batch = buf.getByteBuffer(0, (long) n * EventDecoder.EVENT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            aggregator.onEvents(batch, n, monoToWallNs());
        }
        return n;
    }

    /** Whether the kernel counts the programs' run time, in words for health. */
    private String runStats() {
        int r = probe.runStats();
        if (r > 0) return "on";
        if (r == 0) return "off";
        return "refused (" + Errno.name(-r) + "): BPF_ENABLE_STATS needs CAP_SYS_ADMIN; sysctl kernel.bpf_stats_enabled=1 counts for every program";
    }

    /*
     * A snapshot is built when something happened since the last one (an event drained, a
     * walk, the kernel saw an event), else once a second (the ages it carries, history,
     * health): an idle host builds one a second, not five.
     */
    static final long QUIET_PUBLISH_MS = 1_000;
    private long publishedAtNanos, seenAtPublish = -1, eventsSincePublish;
    private boolean walkedSincePublish;

    private boolean changedSincePublish() {
        if (probe == null || walkedSincePublish || eventsSincePublish > 0 || seenAtPublish < 0) return true;
        return supervisor.attempt(Step.COUNTERS, () -> probe.stats()[Probe.STAT_SEEN], -1L) != seenAtPublish;
    }

    /*
     * A quiet host reads the counters (and the programs' cost) this often: `seen` read first
     * and unchanged says the transition counters are too (the programs count it after them).
     */
    static final long QUIET_COUNTERS_MS = 10_000;
    private long countersReadAtNanos;

    /** The counters when readCounters, then a snapshot; when the snapshot cannot be built, the health alone, so the failure shows. */
    private void publish(boolean readCounters) {
        publishedAtNanos = System.nanoTime();
        walkedSincePublish = false;
        eventsSincePublish = 0;
        if (readCounters) countersReadAtNanos = publishedAtNanos;
        if (probe != null && readCounters) supervisor.run(Step.COUNTERS, () -> {
            List<ProgramCost> costs = probe.programCosts(); // before the stats: see Aggregator.onCounters
            long[] stats = probe.stats();
            seenAtPublish = stats[Probe.STAT_SEEN];
            aggregator.onCounters(costs, runStats(), stats, probe.transitions());
        });
        ProbeOutage now = supervisor.outage();
        outageSinceNanos = now == null ? 0 : supervisor.outageSinceNanos();
        outage = now;
        aggregator.setSupervision(supervisor.errors(), now);
        if (!supervisor.run(Step.PUBLISH, aggregator::publish)) {
            aggregator.setSupervision(supervisor.errors(), supervisor.outage());
            try {
                aggregator.publishHealth();
            } catch (RuntimeException e) {
                // the publish step's failure is counted already; the next tick tries again
            }
        }
    }

    /**
     * Watches the loop from outside: collection out for maxOutage (a step failing all that
     * time, or the loop stuck in one) calls the outage handler, once per outage.
     */
    private void watch() {
        long max = TimeUnit.MILLISECONDS.toNanos(settings.maxOutageMillis());
        long every = Math.max(10, Math.min(1000, settings.maxOutageMillis() / 4));
        long reported = 0; // the start of the last outage reported (a failure streak's, or a stuck pass's)
        long sleepMs = every;
        try {
            while (running) {
                Thread.sleep(sleepMs);
                long now = System.nanoTime(), beat = heartbeatNanos, since = outageSinceNanos;
                ProbeOutage o = outage;
                sleepMs = untilOutageMs(now, beat, o != null ? since : 0, reported, max, every);
                if (now - beat >= max && beat != reported) {
                    Step s = inStep;
                    String step = s == null ? "loop" : s.label;
                    long stuckMs = TimeUnit.NANOSECONDS.toMillis(now - beat);
                    o = new ProbeOutage(step, "stuck", System.currentTimeMillis() - stuckMs,
                            "the probe thread has been in step " + step + " for " + stuckMs / 1000 + " s",
                            System.currentTimeMillis());
                    reported = beat;
                } else if (o != null && now - since >= max && since != reported) {
                    reported = since;
                } else {
                    continue;
                }
                if (!running) return;
                LOG.severe("collection has been out for longer than probe.maxOutage ("
                        + settings.maxOutageMillis() / 1000.0 + " s): " + o.describe());
                onOutage.onOutage(o);
            }
        } catch (InterruptedException e) {
            // stopping
        }
    }

    /*
     * The watchdog sleeps until the first moment an outage could be due: the last beat, or
     * the start of the failure streak, plus maxOutage (a healthy loop: about once per
     * maxOutage, not every second). A later beat only moves that moment on; a streak that
     * starts meanwhile is due after it. `every` once they are reported.
     */
    static long untilOutageMs(long now, long beat, long since, long reported, long max, long every) {
        long until = Long.MAX_VALUE;
        if (beat != reported) until = beat + max - now;
        if (since != 0 && since != reported) until = Math.min(until, since + max - now);
        if (until == Long.MAX_VALUE) return every;
        return Math.max(10, TimeUnit.NANOSECONDS.toMillis(until) + 1);
    }

    /** Walks every namespace it can enter; the counters are read right after. */
    private void walk() throws ProbeException {
        long started = System.nanoTime();
        NetnsDiscovery.Namespaces found = discovery.discover();
        long own = NetnsDiscovery.ownNetns();
        // what each namespace says of itself first: the walk needs its ephemeral port range
        long nowMs = System.currentTimeMillis();
        // a namespace's cookie tells a reused inode from the namespace that had it before
        Map<Long, Long> cookies = new HashMap<>();
        cookies.put(own, Probe.netnsCookie(null));
        for (Map.Entry<Long, Path> ns : found.paths().entrySet()) {
            if (ns.getKey() != own) cookies.put(ns.getKey(), Probe.netnsCookie(ns.getValue().toString()));
        }
        Map<Long, NetnsInfo> info = new HashMap<>();
        info.put(own, info(own, cookies.get(own), null, 0, nowMs));
        for (Map.Entry<Long, Path> ns : found.paths().entrySet()) {
            if (ns.getKey() != own) {
                info.put(ns.getKey(), info(ns.getKey(), cookies.get(ns.getKey()), ns.getValue().toString(),
                        found.pids().getOrDefault(ns.getKey(), 0), nowMs));
            }
        }
        sysctls.keySet().retainAll(info.keySet());
        Map<Long, int[]> ranges = new HashMap<>();
        info.forEach((ns, i) -> ranges.put(ns, new int[] {i.portLow(), i.portHigh()}));
        WalkAccumulator acc = new WalkAccumulator(ranges);

        if (probe == null) {
            for (SocketRecord r : procSnapshotter.walk()) acc.accept(r, true);
            found.pids().keySet().forEach(acc::walked);
            acc.walked(own);
            aggregator.onWalk(acc, info, List.of(), List.of(), micros(started));
            return;
        }
        Map<Long, Long> activity = transitionActivity();
        collect(walkOrReuse(own, cookies.get(own), null, info.get(own), activity, nowMs), acc);
        acc.walked(own);
        for (Map.Entry<Long, Path> ns : found.paths().entrySet()) {
            if (ns.getKey() == own) continue;
            if (!running) return; // stopping: a walk left half done is dropped
            try {
                collect(walkOrReuse(ns.getKey(), cookies.getOrDefault(ns.getKey(), 0L), ns.getValue().toString(),
                        info.get(ns.getKey()), activity, nowMs), acc);
                acc.walked(ns.getKey());
            } catch (ProbeException e) {
                // out of descriptors or memory says nothing of the namespace: the whole walk fails and is retried
                if (Errno.isExhaustion(e.errno())) throw e;
                // e.g. no CAP_SYS_ADMIN to enter it: counts there come from events alone
                info.remove(ns.getKey());
                if (unwalkable.add(ns.getKey())) {
                    LOG.warning("cannot walk network namespace " + ns.getKey() + " via " + ns.getValue()
                            + ": " + e.getMessage());
                }
            }
        }
        walkCache.keySet().retainAll(acc.walkedNetns());
        Set<Long> alive = new HashSet<>(found.paths().keySet());
        alive.addAll(found.pids().keySet());
        alive.add(own);
        kernelLiveness(alive, cookies);
        cookies.values().removeIf(c -> c == 0);
        probe.liveNamespaces(cookies);
        List<Walked> walked = new java.util.ArrayList<>();
        walked.add(new Walked(own, cookies.getOrDefault(own, 0L), null, 0));
        for (long ns : acc.walkedNetns()) {
            Path p = found.paths().get(ns);
            if (ns != own && p != null) {
                walked.add(new Walked(ns, cookies.getOrDefault(ns, 0L), p.toString(), found.pids().getOrDefault(ns, 0)));
            }
        }
        walkedNamespaces = walked;
        List<TransitionCount> transitions = probe.transitions();
        List<Probe.PortCount> ports = probe.portCounters();
        probe.forgetGoneNamespaces(alive, System.currentTimeMillis()); // from what those reads met
        aggregator.onWalk(acc, info, activity, transitions, ports, micros(started));
        walkedSincePublish = true;
        walkedAtNanos = System.nanoTime();
        walkTookNanos = walkedAtNanos - started;
        aggregator.setReconcileInterval(reconcileMs());
        activityAtWalk = activity(transitions); // the walk's own read, not another
    }

    /**
     * Namespaces with counters that /proc and /run/netns do not show (another user's, hidden
     * from an unprivileged agent): the kernel's holders walk says whether a process lives
     * in them, holds one of their sockets or an nsfs file of them. Only asked when there are
     * such namespaces, from a walk at most 10 s old (longer where walks are long: the owners'
     * cadence); without that walk they are taken as gone, as /proc says.
     */
    private void kernelLiveness(Set<Long> alive, Map<Long, Long> cookies) {
        Set<Long> unexplained = probe.seenNamespaceInodes();
        unexplained.removeAll(alive);
        unexplained.remove(0L);
        unexplainedSince.keySet().retainAll(unexplained);
        if (unexplained.isEmpty()) return;
        long now = System.nanoTime();
        for (long ns : unexplained) unexplainedSince.putIfAbsent(ns, now);
        HolderCache holders = aggregator.holders();
        HolderDecoder.Walk w = holders.current();
        if (w == null || !w.complete()) return;
        // a walk older than the question says nothing of a namespace born since: ask again (rate-limited)
        long newest = Long.MIN_VALUE;
        for (long ns : unexplained) {
            if (!w.namespaces().containsKey(ns)) newest = Math.max(newest, unexplainedSince.get(ns));
        }
        if (newest != Long.MIN_VALUE && newest - holders.takenAtNs() >= 0) w = holders.newerThan(newest);
        if (w == null) return;
        alive.addAll(w.namespaces().keySet());
        w.namespaces().forEach((ns, cookie) -> {
            if (cookie != 0) cookies.putIfAbsent(ns, cookie);
        });
    }

    /* when each namespace /proc does not show was first met: walks older than that cannot vouch for it */
    private final Map<Long, Long> unexplainedSince = new HashMap<>();

    /*
     * Walking a namespace scans the whole (host-wide) established hash, about 1.5 ms
     * per namespace here: a namespace with no TCP activity since its last walk (same
     * segment counters, same transition counters) reuses that walk for up to
     * IDLE_REWALK_MS, after which timewait expiry and the like are picked up.
     */
    static final long IDLE_REWALK_MS = 10_000;
    static final int CACHE_MAX_BYTES = 4 << 20;

    private record CachedWalk(long cookie, long segments, long transitions, long atMs, ByteBuffer raw) {}

    private final Map<Long, CachedWalk> walkCache = new HashMap<>();

    /* sysctls change rarely: re-read every SYSCTL_REFRESH_MS */
    static final long SYSCTL_REFRESH_MS = 5_000;
    private record Sysctls(NetnsInfo info, long cookie, long atMs) {}
    private final Map<Long, Sysctls> sysctls = new HashMap<>();

    /*
     * A walk with a listener whose queues hold connections is not reused: accept() drains the
     * accept queue, and requests expire from the SYN queue, with no segment and no transition
     * (a reused walk brought back a queue the listeners-only walk had seen drained).
     */
    private static boolean changesSilently(ByteBuffer raw) {
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + EventDecoder.SOCK_SIZE <= b.limit(); at += EventDecoder.SOCK_SIZE) {
            if ((b.get(at + EventDecoder.SK_STATE) & 0xff) == TcpState.LISTEN.kernel
                    && (b.getInt(at + EventDecoder.SK_ACK_BACKLOG) != 0 || b.getInt(at + EventDecoder.SK_SYN_QLEN) != 0)) {
                return true;
            }
        }
        return false;
    }

    private ByteBuffer walkOrReuse(long netns, long cookie, String path, NetnsInfo ni, Map<Long, Long> activity,
                                   long nowMs) throws ProbeException {
        long segments = ni == null ? -1 : ni.tcpSegments();
        long transitions = activity.getOrDefault(netns, 0L);
        CachedWalk c = walkCache.get(netns);
        if (c != null && c.cookie == cookie && segments >= 0 && c.segments == segments
                && c.transitions == transitions && nowMs - c.atMs < IDLE_REWALK_MS) {
            return c.raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer raw = probe.walk(path, ni == null ? -1 : ni.sockets());
        if (raw.limit() <= CACHE_MAX_BYTES && !changesSilently(raw)) {
            ByteBuffer copy = ByteBuffer.allocate(raw.limit()).order(ByteOrder.LITTLE_ENDIAN);
            copy.put(raw.duplicate());
            copy.flip();
            walkCache.put(netns, new CachedWalk(cookie, segments, transitions, nowMs, copy));
        } else {
            walkCache.remove(netns);
        }
        return raw;
    }

    /** Per namespace, the sum of its transition counters: any state change moves it. */
    private Map<Long, Long> transitionActivity() throws ProbeException {
        Map<Long, Long> out = new HashMap<>();
        for (TransitionCount t : probe.transitions()) out.merge(t.netns(), t.count(), Long::sum);
        return out;
    }

    private NetnsInfo info(long netns, long cookie, String path, int pid, long nowMs) {
        Sysctls cached = sysctls.get(netns);
        if (cached != null && cached.cookie == cookie && nowMs - cached.atMs < SYSCTL_REFRESH_MS) {
            return cached.info.withCounters(NetnsInfoReader.readCounters(files(path, pid)));
        }
        NetnsInfo fresh = NetnsInfoReader.read(files(path, pid));
        sysctls.put(netns, new Sysctls(fresh, cookie, nowMs));
        return fresh;
    }

    /** A namespace's files, from inside it when libtcpulse can enter it. */
    private static NetnsInfoReader.Files files(String netnsPath, int pid) {
        return file -> {
            try {
                return Probe.readInNetns(netnsPath, file);
            } catch (ProbeException | RuntimeException | UnsatisfiedLinkError e) {
                // out of descriptors or memory: defaults in place of the namespace's values would be wrong
                if (e instanceof ProbeException p && Errno.isExhaustion(p.errno())) {
                    throw new UncheckedIOException(new IOException(e.getMessage(), e));
                }
                // degraded: /proc/PID/net shows another namespace's counters; its sysctls stay default
                String direct = netnsPath == null ? file
                        : pid > 0 && file.startsWith("/proc/thread-self/net/") ? file.replace("thread-self", Integer.toString(pid))
                        : null;
                try {
                    return direct == null ? null : Files.readString(Path.of(direct));
                } catch (IOException io) {
                    if (Exhaustion.of(io)) throw new UncheckedIOException(io);
                    return null;
                } catch (RuntimeException io) {
                    return null;
                }
            }
        };
    }

    private static void collect(ByteBuffer raw, WalkAccumulator into) {
        for (int at = 0; at + EventDecoder.SOCK_SIZE <= raw.limit(); at += EventDecoder.SOCK_SIZE) {
            into.acceptRaw(raw, at);
        }
    }

    private static long micros(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1000;
    }

    /** bpf_ktime_get_ns() and System.nanoTime() both read CLOCK_MONOTONIC on Linux. */
    static long monoToWallNs() {
        return System.currentTimeMillis() * 1_000_000L - System.nanoTime();
    }

    /**
     * Stops the loop and waits up to timeoutMs for its thread to end. True once it has
     * ended (or never started): only then may the probe's handle be freed.
     */
    public boolean stop(long timeoutMs) throws InterruptedException {
        running = false;
        watchdog.interrupt();
        LockSupport.unpark(thread);
        if (thread.getState() == Thread.State.NEW) return true;
        thread.join(timeoutMs);
        return !thread.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        stop(10_000);
    }
}
