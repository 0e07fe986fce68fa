package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.ProbeError;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.model.ProbeOutage;
import io.tcpulse.agent.model.ProgramCost;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;
import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.host.Owners;
import io.tcpulse.agent.probe.EventDecoder;
import io.tcpulse.agent.probe.Probe;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Single writer: every on* method runs on the probe thread. Readers get immutable
 * {@link Snapshot}s through {@link #current()}, published with a volatile write.
 *
 * State counts = the last walk (exact at that moment) + what the kernel's exact
 * transition counters say happened since. The walk repeats, so counts that
 * events cannot keep (timewait expiry, request sockets) converge to the truth.
 */
public final class Aggregator implements SnapshotSource {
    private static final int STATE_SLOTS = 13;

    private final int recentCapacity;
    private final LongSupplier wallMillis;
    private final long startedMillis;

    /* baseline: per netns, counts by kernel state number, from the last walk */
    private final Map<Long, long[]> walkCounts = new HashMap<>();
    private Map<TransitionKey, Long> transitionsAtWalk = Map.of();
    private List<TransitionCount> transitionsNow = List.of();
    private List<SocketRecord> listeners = List.of();
    private List<ListenerStatus> listenerStatus = List.of();
    private Map<Long, TimeWaitReport> timewait = Map.of();
    private Map<Long, CloseWaitReport> closewait = Map.of();
    private Map<Long, Map<String, Long>> netstat = Map.of();
    private Map<Long, Snapshot.Resets> resets = Map.of();
    private final ListenerTracker listenerTracker = new ListenerTracker();
    private final ResetPeers resetPeers = new ResetPeers();
    private final PeerTable peerTable = new PeerTable();
    private final ListenerChildren listenerChildren = new ListenerChildren();
    private final Owners hostOwners;
    private Map<Long, List<PeerReport>> peers = Map.of();
    private final ClosingTracker closing;
    private final OwnerResolver owners;
    private final HolderCache holders = new HolderCache(System::nanoTime);

    private final Map<Long, Latency> latency = new HashMap<>();
    private final RecentEvents recent;
    /* per-namespace state outlives its namespace by a grace period, then goes (issue 11) */
    private final NetnsEviction eviction;
    private final NetnsGenerations generations = new NetnsGenerations();

    /* health */
    private boolean probeAvailable;
    private String cause;
    private volatile List<ProbeFeature> probeFeatures = List.of();
    private List<ProbeError> probeErrors = List.of();
    private ProbeOutage outage;
    private String mode;
    private final long[] kernelStats = new long[Probe.STAT_MAX];
    private Health.Programs programs = Health.Programs.NONE;
    private long consumed, decodeErrors;
    private int samplingRatio = 1;
    private long lastWalkMillis, lastWalkMicros, walkedSockets;

    /* live subscribers (SSE) get at most this many of a batch's newest events; they rate-limit further */
    static final int SUBSCRIBER_EVENTS_PER_BATCH = 500;
    private long lastMonoToWallNs = System.currentTimeMillis() * 1_000_000L - System.nanoTime();

    private final List<Consumer<List<Event>>> subscribers = new CopyOnWriteArrayList<>();
    private volatile Snapshot current;
    /* the last hour, one sample a second (dashboard charts, GET /api/v1/history) */
    private final History history = new History();

    record TransitionKey(long netns, TcpState from, TcpState to, boolean derived) {
        static TransitionKey of(TransitionCount t) {
            return new TransitionKey(t.netns(), t.from(), t.to(), t.derived());
        }
    }

    public Aggregator(int recentCapacity, LongSupplier wallMillis) {
        this(recentCapacity, wallMillis, new Owners(), 60_000);
    }

    /** @param closeWaitMinAgeMs CLOSE_WAIT sockets older than this flag their owner as leaking */
    public Aggregator(int recentCapacity, LongSupplier wallMillis, Owners hostOwners, long closeWaitMinAgeMs) {
        if (recentCapacity <= 0) throw new IllegalArgumentException("recentCapacity must be positive, got " + recentCapacity);
        this.owners = new OwnerResolver(hostOwners, holders);
        this.hostOwners = hostOwners;
        // until the probe offers the kernel's walk: /proc, where this agent may look
        holders.source(() -> {
            Map<Long, List<io.tcpulse.agent.model.Holder>> held = hostOwners.scanHolders();
            return new io.tcpulse.agent.probe.HolderDecoder.Walk(held, Map.of(), held.size(), false);
        });
        this.closing = new ClosingTracker(closeWaitMinAgeMs);
        this.recentCapacity = recentCapacity;
        this.wallMillis = wallMillis;
        this.startedMillis = wallMillis.getAsLong();
        this.recent = new RecentEvents(recentCapacity);
        this.eviction = new NetnsEviction(NetnsEviction.DEFAULT_GRACE_MILLIS, wallMillis);
        this.mode = "starting";
        publish();
    }

    /** What the agent runs on: the BPF probe, or /proc when the probe is unavailable. */
    public void setProbe(boolean available, String cause) {
        this.probeAvailable = available;
        this.cause = cause;
        this.mode = available ? "bpf" : "procfs";
    }

    /** How the probe loop's steps fare: their failures by cause, and the outage while one lasts. */
    public void setSupervision(List<ProbeError> errors, ProbeOutage outage) {
        this.probeErrors = List.copyOf(errors);
        this.outage = outage;
    }

    /** Owner lookups (/proc scans, cgroup names) run through guard: a failing one leaves owners unnamed. */
    public void guardOwnerLookups(StepGuard guard) {
        owners.guard(guard);
    }

    /** Who holds which socket: the probe loop gives it the kernel's walk and asks it about namespaces. */
    public HolderCache holders() {
        return holders;
    }

    /** What the probe does on this kernel, feature by feature. */
    public void setProbeFeatures(List<ProbeFeature> features) {
        this.probeFeatures = List.copyOf(features);
    }

    /**
     * A batch of raw events (EventDecoder layout). The hot path reads fields in place;
     * only the newest events of the batch become objects (recent buffer, subscribers).
     */
    public void onEvents(ByteBuffer batch, int count, long monoToWallNs) {
        Latency cachedLatency = null;
        long cachedNetns = -1;
        int cachedCookie = 0;
        for (int i = 0; i < count; i++) {
            int at = i * EventDecoder.EVENT_SIZE;
            consumed++;
            int kind = EventDecoder.kind(batch, at);
            boolean reset = kind == EventDecoder.KIND_RESET_SENT || kind == EventDecoder.KIND_RESET_RECV;
            if (!reset && kind != EventDecoder.KIND_STATE) continue;
            long netns = EventDecoder.netns(batch, at);
            int cookie = EventDecoder.netnsCookieLo(batch, at);
            if (netns != cachedNetns || cookie != cachedCookie) {
                NetnsGenerations.Verdict v = generations.check(netns, cookie);
                if (v == NetnsGenerations.Verdict.STALE) { // a late event of a replaced namespace: dropped
                    cachedNetns = -1;
                    continue;
                }
                if (v == NetnsGenerations.Verdict.REPLACED) forgetEventState(netns);
                cachedLatency = latency.computeIfAbsent(netns, n -> Latency.empty());
                eviction.touch(netns);
                cachedNetns = netns;
                cachedCookie = cookie;
            }
            if (reset) {
                resetPeers.add(batch, at);
                continue;
            }
            int from = EventDecoder.oldState(batch, at), to = EventDecoder.newState(batch, at);
            if (TcpState.ofKernel(from) == null || TcpState.ofKernel(to) == null) {
                decodeErrors++;
                continue;
            }
            int ratio = EventDecoder.sampleRatio(batch, at);
            samplingRatio = ratio;
            peerTable.add(batch, at, from, to, ratio);
            listenerChildren.add(batch, at, from, to, ratio);
            if (to == TcpState.ESTABLISHED.kernel) {
                if (from == TcpState.SYN_SENT.kernel) {
                    long ns = EventDecoder.prevStateNs(batch, at);
                    if (ns > 0) cachedLatency.handshakeClient().record(ns, ratio);
                } else if (from == TcpState.SYN_RECV.kernel) {
                    long synAckRttUs = EventDecoder.aux(batch, at);
                    if (synAckRttUs > 0) cachedLatency.handshakeServer().record(synAckRttUs * 1000, ratio);
                }
            } else if (to == TcpState.CLOSE.kernel && (EventDecoder.flags(batch, at) & Event.F_BORN_KNOWN) != 0) {
                long age = EventDecoder.ageNs(batch, at);
                if (age > 0) cachedLatency.lifetime().record(age, ratio);
            }
        }
        materializeNewest(batch, count, monoToWallNs);
    }

    /**
     * Keeps the batch's newest records for /api/v1/events (decoded when read), and turns
     * the newest into objects for live subscribers only when there are some.
     */
    private void materializeNewest(ByteBuffer batch, int count, long monoToWallNs) {
        recent.add(batch, count);
        lastMonoToWallNs = monoToWallNs;
        if (subscribers.isEmpty()) return;
        int keep = Math.min(count, SUBSCRIBER_EVENTS_PER_BATCH);
        List<Event> fresh = new ArrayList<>(keep);
        for (int i = count - keep; i < count; i++) {
            EventDecoder.Result d = EventDecoder.decode(batch, i * EventDecoder.EVENT_SIZE, EventDecoder.EVENT_SIZE, monoToWallNs);
            if (d.event() != null) fresh.add(d.event());
        }
        List<Event> view = Collections.unmodifiableList(fresh);
        for (Consumer<List<Event>> s : subscribers) {
            try {
                s.accept(view);
            } catch (RuntimeException e) {
                // a broken subscriber must not stop the probe thread
                subscribers.remove(s);
            }
        }
    }

    /**
     * Kernel health counters and the exact transition counters, read on a short tick, with the
     * programs' costs read just before the stats: a state change the first
     * program missed and its twin did not handle is lost. Kept monotonic: a miss whose twin
     * is still running counts as lost for no read, a handling counted after the misses were
     * read lowers the difference for one read only.
     */
    public void onCounters(List<ProgramCost> costs, String runStats, long[] stats, List<TransitionCount> transitions) {
        System.arraycopy(stats, 0, kernelStats, 0, Math.min(stats.length, kernelStats.length));
        this.transitionsNow = List.copyOf(transitions);
        long firstMisses = -1;
        boolean twin = false;
        for (ProgramCost c : costs) {
            if (c.feature().equals("stateChanges")) firstMisses = c.recursionMisses();
            if (c.feature().equals("nestedStateChanges")) twin = true;
        }
        long lost = firstMisses < 0 ? 0 : firstMisses - (twin ? kernelStats[Probe.STAT_TWIN_HANDLED] : 0);
        programs = new Health.Programs(runStats, costs, Math.max(programs.stateChangesLost(), lost));
    }

    /** What events built up for a namespace: it is gone, or a new one took its inode. */
    private void forgetEventState(long netns) {
        latency.remove(netns);
        resetPeers.evict(netns);
        peerTable.evict(netns);
        listenerChildren.evict(netns);
    }

    /** Whether the last walk found sockets that change with neither an event nor a counter: request sockets, a queue to drain. */
    public boolean lastWalkMovesSilently() {
        return movesSilently;
    }

    /** The probe loop skipped a walk: nothing happened since the last one, which found nothing that moves silently. */
    public void onWalkSkipped() {
        skippedWalks++;
    }

    /*
     * Request sockets and SYN queues change with no event (timewait expiry moves sockstat's
     * tw, which ProbeLoop.activity reads: not silent); accept queues apart, see acceptQueued.
     */
    private static boolean movesSilentlyButQueues(WalkAccumulator walk) {
        for (long[] c : walk.stateCounts.values()) {
            if (c[TcpState.NEW_SYN_RECV.kernel] > 0) return true;
        }
        for (SocketRecord l : walk.listeners) {
            if (l.synQueue() > 0) return true;
        }
        return false;
    }

    /** A listener with connections waiting for accept(): accept() drains them with no event. */
    private static boolean acceptQueued(List<SocketRecord> listeners) {
        for (SocketRecord l : listeners) {
            if (l.acceptQueue() > 0) return true;
        }
        return false;
    }

    /**
     * Whether what may move silently since the last walk is only listeners' accept queues
     * (no request socket, no SYN queue, a settled walk): walking the listeners then tells
     * all a full walk would.
     */
    public boolean onlyAcceptQueuesMove() {
        return onlyAcceptQueues;
    }

    /**
     * A listeners-only walk: their queues and figures now, everything else as the last
     * full walk found it. Taken when nothing happened but accept queues may drain.
     */
    public void onListenerWalk(List<SocketRecord> walked, Map<Long, NetnsInfo> info, List<Probe.PortCount> ports) {
        this.listeners = List.copyOf(walked);
        this.listenerStatus = withChildren(listenerTracker.update(walked, info, ListenerTracker.fold(ports), owners), lastChildren);
        Map<Long, Map<String, Long>> ns = new HashMap<>(netstat);
        info.forEach((n, i) -> ns.put(n, Map.copyOf(i.tcpExt())));
        this.netstat = Map.copyOf(ns);
        boolean queued = acceptQueued(walked);
        this.movesSilently = queued;
        this.onlyAcceptQueues = queued;
        listenerWalks++;
    }

    private volatile boolean movesSilently = true;
    private volatile boolean onlyAcceptQueues;
    private Map<Long, Map<Integer, WalkAccumulator.DestCount>> lastChildren = Map.of();
    private long listenerWalks;
    private long skippedWalks;

    /**
     * A reconciliation walk: every socket of the namespaces walked, what each namespace
     * says of itself, and the kernel counters read right after the walk (changes during
     * the walk are then not counted twice).
     */
    public void onWalk(WalkAccumulator walk, Map<Long, NetnsInfo> info, List<TransitionCount> transitionsAfter,
                       List<Probe.PortCount> ports, long walkMicros) {
        onWalk(walk, info, null, transitionsAfter, ports, walkMicros);
    }

    /**
     * @param transitionsBefore per namespace, the sum of its transition counters read before
     *        the walk (null: not read); where the walk changed nothing, the counts kept since
     *        the walk before are checked against it (drift)
     */
    public void onWalk(WalkAccumulator walk, Map<Long, NetnsInfo> info, Map<Long, Long> transitionsBefore,
                       List<TransitionCount> transitionsAfter, List<Probe.PortCount> ports, long walkMicros) {
        if (transitionsBefore != null) checkDrift(walk, transitionsBefore, transitionsAfter);
        walkCounts.clear();
        walk.stateCounts.forEach((ns, c) -> walkCounts.put(ns, c.clone()));
        Map<TransitionKey, Long> at = new HashMap<>();
        Map<Long, Long> twEntries = new HashMap<>();
        for (TransitionCount t : transitionsAfter) {
            at.put(TransitionKey.of(t), t.count());
            if (t.derived()) twEntries.merge(t.netns(), t.count(), Long::sum);
        }
        Map<Long, long[]> rsts = new HashMap<>(); // netns -> {sent, received}
        for (Probe.PortCount p : ports) {
            if (p.what() == Probe.PortCount.RESET_SENT) rsts.computeIfAbsent(p.netns(), n -> new long[2])[0] += p.count();
            if (p.what() == Probe.PortCount.RESET_RECV) rsts.computeIfAbsent(p.netns(), n -> new long[2])[1] += p.count();
        }
        long wall = wallMillis.getAsLong();
        this.transitionsAtWalk = at;
        this.transitionsNow = List.copyOf(transitionsAfter);
        this.listeners = List.copyOf(walk.listeners);
        for (long walked : walk.walkedNetns()) listenerChildren.keepOnly(walked, walk.listeningPorts(walked));
        this.lastChildren = walk.children;
        this.listenerStatus = withChildren(listenerTracker.update(walk.listeners, info, ListenerTracker.fold(ports), owners), walk.children);
        this.timewait = Map.copyOf(closing.timewait(walk, info, twEntries, wall));
        this.closewait = Map.copyOf(closing.closewait(walk, owners, info, System.nanoTime(), wall));
        Map<Long, Map<String, Long>> ns = new HashMap<>();
        info.forEach((n, i) -> ns.put(n, Map.copyOf(i.tcpExt())));
        this.netstat = Map.copyOf(ns);
        Map<Long, Snapshot.Resets> withPeers = new HashMap<>();
        rsts.forEach((n, r) -> withPeers.put(n, new Snapshot.Resets(r[0], r[1], resetPeers.top(n))));
        this.resets = Map.copyOf(withPeers);
        this.peers = peers(walk);
        java.util.Set<Long> alive = new java.util.HashSet<>(info.keySet());
        alive.addAll(walk.stateCounts.keySet());
        for (Long gone : eviction.walked(alive)) {
            forgetEventState(gone);
            generations.forget(gone);
        }
        resetPeers.decay();
        peerTable.decay();
        this.lastWalkMillis = wall;
        this.lastWalkMicros = walkMicros;
        boolean settled = stillAtWalk.containsAll(walk.walkedNetns());
        boolean silent = movesSilentlyButQueues(walk), queued = acceptQueued(walk.listeners);
        this.movesSilently = silent || queued || !settled;
        this.onlyAcceptQueues = settled && queued && !silent;
        this.walkedSockets = walk.sockets;
    }

    /* states whose every change is a counted transition: a walk must find what the counters say */
    private static final List<TcpState> CHECKED_STATES = List.of(TcpState.ESTABLISHED, TcpState.SYN_SENT,
            TcpState.SYN_RECV, TcpState.FIN_WAIT1, TcpState.CLOSE_WAIT, TcpState.LAST_ACK, TcpState.LISTEN,
            TcpState.CLOSING);
    private long driftCheckedWalks, driftSockets, unsettledWalks;
    private java.util.Set<Long> stillAtWalk = java.util.Set.of();
    private final Map<String, Long> driftByState = new java.util.TreeMap<>();
    {
        for (TcpState st : CHECKED_STATES) driftByState.put(st.name(), 0L);
    }
    private long reconcileIntervalMillis;

    /**
     * Compares, in each namespace whose counters moved neither during this walk nor during
     * the one before, the counts kept since that walk with the sockets found now: any
     * difference is a change the counters missed. A socket that changes while a walk runs
     * may be met before or after its change, so a walk during which its namespace moved is
     * "unsettled": its counts may be off by such sockets until the next walk, which the
     * probe loop then takes at once (lastWalkMovesSilently).
     */
    private void checkDrift(WalkAccumulator walk, Map<Long, Long> before, List<TransitionCount> after) {
        Map<Long, Long> sums = new HashMap<>();
        for (TransitionCount t : after) sums.merge(t.netns(), t.count(), Long::sum);
        Map<Long, long[]> kept = countsAt(after);
        java.util.Set<Long> stillNow = new java.util.HashSet<>();
        for (long ns : walk.walkedNetns()) {
            if (sums.getOrDefault(ns, 0L).equals(before.getOrDefault(ns, 0L))) stillNow.add(ns);
            else unsettledWalks++;
        }
        java.util.Set<Long> stillBefore = stillAtWalk;
        stillAtWalk = stillNow;
        for (long ns : stillNow) {
            // the counts kept are exact only from a walk that was itself still
            if (!stillBefore.contains(ns)) continue;
            long[] was = kept.get(ns), found = walk.stateCounts.get(ns);
            driftCheckedWalks++;
            for (TcpState st : CHECKED_STATES) {
                long d = Math.abs((was == null ? 0 : was[st.kernel]) - (found == null ? 0 : found[st.kernel]));
                if (d == 0) continue;
                driftSockets += d;
                driftByState.merge(st.name(), d, Long::sum);
            }
        }
    }

    /** The ProbeLoop's current reconciliation interval, for health. */
    public void setReconcileInterval(long millis) {
        this.reconcileIntervalMillis = millis;
    }

    /** Per namespace, counts by kernel state number: the last walk's plus what the given counters say happened since. */
    private Map<Long, long[]> countsAt(List<TransitionCount> transitions) {
        Map<Long, long[]> counts = new HashMap<>();
        walkCounts.forEach((ns, c) -> counts.put(ns, c.clone()));
        for (TransitionCount t : transitions) {
            long delta = t.count() - transitionsAtWalk.getOrDefault(TransitionKey.of(t), 0L);
            if (delta != 0) applyDelta(counts.computeIfAbsent(t.netns(), n -> new long[STATE_SLOTS]), t, delta);
        }
        return counts;
    }

    /** Each listener with the connections it accepted: live ones from the walk, the rest from events. */
    private List<ListenerStatus> withChildren(List<ListenerStatus> statuses, Map<Long, Map<Integer, WalkAccumulator.DestCount>> children) {
        List<ListenerStatus> out = new ArrayList<>(statuses.size());
        for (ListenerStatus l : statuses) {
            WalkAccumulator.DestCount live = children.getOrDefault(l.netns(), Map.of()).get(l.port());
            ListenerChildren.Row closed = listenerChildren.row(l.netns(), l.port());
            Carried carried = closed == null ? new Carried() : closed.carried.copy();
            Map<TcpState, Long> states = new EnumMap<>(TcpState.class);
            if (live != null) {
                carried.addLive(live);
                for (TcpState st : TcpState.COUNTED) if (live.states[st.kernel] > 0) states.put(st, live.states[st.kernel]);
            }
            out.add(l.withChildren(new ListenerStatus.Children(Collections.unmodifiableMap(states),
                    closed == null ? 0 : closed.accepted, carried)));
        }
        return List.copyOf(out);
    }

    /**
     * Per namespace, every destination this host connected to: the walk's sockets by state
     * (summed over local addresses) beside the events' connects and failures. Built at each
     * walk, not each snapshot: thousands of destinations are no per-tick cost.
     */
    private Map<Long, List<PeerReport>> peers(WalkAccumulator walk) {
        record Dest(long netns, String remote) {}
        Map<Dest, long[]> states = new HashMap<>();
        Map<Dest, Carried> live = new HashMap<>();
        walk.outbound.forEach((d, c) -> {
            Dest dest = new Dest(d.netns(), d.remote());
            long[] into = states.computeIfAbsent(dest, k -> new long[13]);
            for (int i = 0; i < into.length; i++) into[i] += c.states[i];
            if (c.live > 0) live.computeIfAbsent(dest, k -> new Carried()).addLive(c);
        });
        Map<Dest, PeerTable.PeerCounts> counts = new HashMap<>();
        peerTable.counts().forEach((netns, rows) -> rows.forEach(r -> counts.put(new Dest(netns, r.remote()), r)));
        java.util.Set<Dest> all = new java.util.HashSet<>(states.keySet());
        all.addAll(counts.keySet());
        Map<Long, List<PeerReport>> out = new HashMap<>();
        for (Dest d : all) {
            long[] s = states.getOrDefault(d, new long[13]);
            Map<TcpState, Long> byState = new EnumMap<>(TcpState.class);
            for (TcpState st : TcpState.COUNTED) if (s[st.kernel] > 0) byState.put(st, s[st.kernel]);
            PeerTable.PeerCounts c = counts.get(d);
            List<PeerReport.Owner> owners = new ArrayList<>();
            if (c != null) {
                c.owners().forEach((pid, o) -> owners.add(new PeerReport.Owner(pid, o.comm(),
                        hostOwners.unitOf(o.cgroupId()).orElse(""))));
                owners.sort(java.util.Comparator.comparingInt(PeerReport.Owner::pid));
            }
            Map<String, Long> failed = c != null ? c.failed() : zeroFailures();
            Carried carried = c != null ? c.carried() : new Carried();
            Carried now = live.get(d);
            if (now != null) carried.add(now);
            out.computeIfAbsent(d.netns(), n -> new ArrayList<>()).add(new PeerReport(d.remote(), Collections.unmodifiableMap(byState),
                    c == null ? 0 : c.connects(), c == null ? 0 : c.established(), failed, List.copyOf(owners), carried));
        }
        out.replaceAll((n, l) -> List.copyOf(l));
        return Map.copyOf(out);
    }

    private static Map<String, Long> zeroFailures() {
        Map<String, Long> m = new java.util.LinkedHashMap<>();
        for (String r : PeerTable.REASONS) m.put(r, 0L);
        return m;
    }

    /** Namespaces with latency histograms, with RST peers, and tracked for eviction (tests). */
    int[] perNamespaceState() {
        return new int[] {latency.size(), resetPeers.namespaces(), eviction.tracked()};
    }

    /** Builds and publishes a new immutable snapshot. */
    public void publish() {
        Map<Long, long[]> counts = countsAt(transitionsNow);
        Map<Long, Map<TcpState, Long>> states = new HashMap<>();
        counts.forEach((ns, c) -> {
            Map<TcpState, Long> m = new EnumMap<>(TcpState.class);
            for (TcpState s : TcpState.COUNTED) m.put(s, Math.max(0, c[s.kernel]));
            states.put(ns, Collections.unmodifiableMap(m));
        });
        Map<Long, Latency> lat = new HashMap<>();
        latency.forEach((ns, l) -> lat.put(ns, l.copy()));
        Health health = health();
        List<Event> newestFirst = recent.newestFirst(lastMonoToWallNs);
        current = new Snapshot(wallMillis.getAsLong(), health, Collections.unmodifiableMap(states),
                transitionsNow, Collections.unmodifiableMap(lat),
                newestFirst, listeners,
                listenerStatus, timewait, closewait, netstat, resets, peers);
        history.maybeRecord(current); // records only when a new second has begun
    }

    private Health health() {
        String why = cause;
        if (outage != null) why = why == null ? outage.describe() : why + "; " + outage.describe();
        return new Health(probeAvailable, why, mode,
                kernelStats[0], consumed, kernelStats[2], kernelStats[3], kernelStats[4], decodeErrors,
                samplingRatio, lastWalkMillis, lastWalkMicros, walkedSockets,
                kernelStats[Probe.STAT_REMEMBERED], startedMillis, probeFeatures, probeErrors, outage, holders.stats(), mapFullByMap(),
                programs, skippedWalks,
                new Health.Drift(driftCheckedWalks, driftSockets, driftByState, unsettledWalks, reconcileIntervalMillis),
                listenerWalks,
                new Health.Wakeups(kernelStats[Probe.STAT_WAKEUPS], kernelStats[Probe.STAT_WAKEUPS_ASLEEP]));
    }

    /** TCPULSE_STAT_MAP_FULL split by map; empty without a probe. */
    private java.util.Map<String, Long> mapFullByMap() {
        if (!probeAvailable) return java.util.Map.of();
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < Probe.MAP_FULL_MAPS.size(); i++) out.put(Probe.MAP_FULL_MAPS.get(i), kernelStats[Probe.STAT_MAP_FULL_FIRST + i]);
        return out;
    }

    /**
     * The last snapshot with the health of now: what is left to publish when building a
     * whole snapshot fails, so the failure still shows.
     */
    public void publishHealth() {
        Snapshot last = current;
        current = last.withHealth(wallMillis.getAsLong(), health());
    }

    /**
     * How one kind of transition moves the counts. A child's LISTEN->SYN_RECV leaves
     * its listener in LISTEN; CLOSE is not counted; a timewait entry adds its substate.
     */
    static void applyDelta(long[] counts, TransitionCount t, long d) {
        if (t.derived()) {
            counts[t.to().kernel] += d;
            return;
        }
        boolean childBirth = t.from() == TcpState.LISTEN && t.to() == TcpState.SYN_RECV;
        if (t.from() != TcpState.CLOSE && !childBirth) counts[t.from().kernel] -= d;
        if (t.to() != TcpState.CLOSE) counts[t.to().kernel] += d;
    }

    @Override
    public Snapshot current() { return current; }

    @Override
    public History history() { return history; }

    @Override
    public AutoCloseable subscribe(Consumer<List<Event>> listener) {
        subscribers.add(listener);
        return () -> subscribers.remove(listener);
    }
}
