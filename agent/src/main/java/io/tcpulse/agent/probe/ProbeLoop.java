package io.tcpulse.agent.probe;

import com.sun.jna.Memory;
import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.aggregate.WalkAccumulator;
import io.tcpulse.agent.host.NetnsDiscovery;
import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.host.NetnsInfoReader;
import io.tcpulse.agent.host.ProcSnapshotter;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TransitionCount;

import java.io.IOException;
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
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one thread that talks to the kernel: drains the rings on a short tick, reads
 * the exact counters, walks every namespace's sockets periodically, and feeds the
 * aggregator (its single writer). Without a probe it walks /proc instead.
 */
public final class ProbeLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ProbeLoop.class.getName());

    public record Settings(int tickMs, int batchEvents, long walkIntervalMs, long publishIntervalMs) {
        public static Settings defaults() { return new Settings(5, 16384, 2000, 200); }
    }

    private final Probe probe; // null: degraded, /proc only
    private final Aggregator aggregator;
    private final Settings settings;
    private final NetnsDiscovery discovery = new NetnsDiscovery();
    private final ProcSnapshotter procSnapshotter = new ProcSnapshotter();
    private final Set<Long> unwalkable = new HashSet<>();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile Throwable failure;

    public ProbeLoop(Probe probe, Aggregator aggregator, Settings settings) {
        this.probe = probe;
        this.aggregator = aggregator;
        this.settings = settings;
        this.thread = new Thread(this::run, "tcpulse-probe");
        this.thread.setDaemon(true);
    }

    public void start() { thread.start(); }

    /** Runs one reconciliation walk now, on the caller's thread; only before start() or in tests. */
    public void walkNow() throws ProbeException { walk(); }

    private void run() {
        Memory buf = new Memory((long) settings.batchEvents() * EventDecoder.EVENT_SIZE);
        long nextWalk = 0, nextPublish = 0;
        try {
            while (running) {
                if (probe != null) {
                    int n = probe.poll(buf, settings.tickMs());
                    if (n > 0) {
                        ByteBuffer batch = buf.getByteBuffer(0, (long) n * EventDecoder.EVENT_SIZE)
                                .order(ByteOrder.LITTLE_ENDIAN);
                        aggregator.onEvents(batch, n, monoToWallNs());
                    }
                    // the rings are drained: let events gather for a tick instead of spinning
                    // on a trickle (the kernel wakes poll() early only when a ring fills up)
                    if (n > 0 && n < settings.batchEvents()) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(settings.tickMs()));
                    }
                } else {
                    TimeUnit.MILLISECONDS.sleep(Math.min(settings.publishIntervalMs(), 100));
                }
                long now = System.nanoTime();
                if (now - nextWalk >= 0) {
                    walk();
                    nextWalk = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settings.walkIntervalMs());
                }
                if (now - nextPublish >= 0) {
                    if (probe != null) aggregator.onCounters(probe.stats(), probe.transitions());
                    aggregator.publish();
                    nextPublish = now + TimeUnit.MILLISECONDS.toNanos(settings.publishIntervalMs());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            failure = t;
            LOG.log(Level.SEVERE, "probe loop stopped", t);
            aggregator.setProbe(false, "probe loop stopped: " + t.getMessage());
            aggregator.publish();
        }
    }

    /** Walks every namespace it can enter; the counters are read right after. */
    private void walk() throws ProbeException {
        long started = System.nanoTime();
        NetnsDiscovery.Namespaces found = discovery.discover();
        long own = ownNetns();
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
            try {
                collect(walkOrReuse(ns.getKey(), cookies.getOrDefault(ns.getKey(), 0L), ns.getValue().toString(),
                        info.get(ns.getKey()), activity, nowMs), acc);
                acc.walked(ns.getKey());
            } catch (ProbeException e) {
                // e.g. no CAP_SYS_ADMIN to enter it: counts there come from events alone
                info.remove(ns.getKey());
                if (unwalkable.add(ns.getKey())) {
                    LOG.warning("cannot walk network namespace " + ns.getKey() + " via " + ns.getValue()
                            + ": " + e.getMessage());
                }
            }
        }
        walkCache.keySet().retainAll(acc.walkedNetns());
        cookies.values().removeIf(c -> c == 0);
        probe.liveNamespaces(cookies);
        List<TransitionCount> transitions = probe.transitions();
        List<Probe.PortCount> ports = probe.portCounters();
        Set<Long> alive = new HashSet<>(found.paths().keySet());
        alive.addAll(found.pids().keySet());
        alive.add(own);
        probe.forgetGoneNamespaces(alive, System.currentTimeMillis()); // from what those reads met
        aggregator.onWalk(acc, info, transitions, ports, micros(started));
    }

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

    private ByteBuffer walkOrReuse(long netns, long cookie, String path, NetnsInfo ni, Map<Long, Long> activity,
                                   long nowMs) throws ProbeException {
        long segments = ni == null ? -1 : ni.tcpSegments();
        long transitions = activity.getOrDefault(netns, 0L);
        CachedWalk c = walkCache.get(netns);
        if (c != null && c.cookie == cookie && segments >= 0 && c.segments == segments
                && c.transitions == transitions && nowMs - c.atMs < IDLE_REWALK_MS) {
            return c.raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer raw = probe.walk(path);
        if (raw.limit() <= CACHE_MAX_BYTES) {
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
                // degraded: /proc/PID/net shows another namespace's counters; its sysctls stay default
                String direct = netnsPath == null ? file
                        : pid > 0 && file.startsWith("/proc/thread-self/net/") ? file.replace("thread-self", Integer.toString(pid))
                        : null;
                try {
                    return direct == null ? null : Files.readString(Path.of(direct));
                } catch (IOException | RuntimeException io) {
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

    /** Inode of the agent's own network namespace. */
    static long ownNetns() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self/ns/net"), "unix:ino")).longValue();
        } catch (Exception e) {
            return -1;
        }
    }

    /** bpf_ktime_get_ns() and System.nanoTime() both read CLOCK_MONOTONIC on Linux. */
    static long monoToWallNs() {
        return System.currentTimeMillis() * 1_000_000L - System.nanoTime();
    }

    /** Why the loop stopped, or null while it runs. */
    public Throwable failure() { return failure; }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(5000);
    }
}
