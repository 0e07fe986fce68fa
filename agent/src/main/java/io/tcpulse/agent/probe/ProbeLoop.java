package io.tcpulse.agent.probe;

import com.sun.jna.Memory;
import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.host.NetnsDiscovery;
import io.tcpulse.agent.host.ProcSnapshotter;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TransitionCount;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
        List<SocketRecord> sockets = new ArrayList<>();
        Set<Long> walked = new HashSet<>();
        if (probe == null) {
            sockets.addAll(procSnapshotter.walk());
            walked.addAll(found.pids().keySet());
            aggregator.onWalk(sockets, walked, List.of(), micros(started));
            return;
        }
        long own = ownNetns();
        collect(probe.walk(null), sockets);
        walked.add(own);
        for (Map.Entry<Long, Path> ns : found.paths().entrySet()) {
            if (ns.getKey() == own) continue;
            try {
                collect(probe.walk(ns.getValue().toString()), sockets);
                walked.add(ns.getKey());
            } catch (ProbeException e) {
                // e.g. no CAP_SYS_ADMIN to enter it: counts there come from events alone
                if (unwalkable.add(ns.getKey())) {
                    LOG.warning("cannot walk network namespace " + ns.getKey() + " via " + ns.getValue()
                            + ": " + e.getMessage());
                }
            }
        }
        List<TransitionCount> after = probe.transitions();
        aggregator.onWalk(sockets, walked, after, micros(started));
    }

    private static void collect(ByteBuffer raw, List<SocketRecord> into) {
        for (int at = 0; at + EventDecoder.SOCK_SIZE <= raw.limit(); at += EventDecoder.SOCK_SIZE) {
            into.add(EventDecoder.decodeSock(raw, at));
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
