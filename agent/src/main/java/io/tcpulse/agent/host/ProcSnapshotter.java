package io.tcpulse.agent.host;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Degraded mode's socket walk, when the eBPF probe is unavailable: /proc/PID/net/tcp and
 * tcp6 read once per namespace through a process living in it. Namespaces only pinned by
 * a /run/netns bind mount have no such process and are missed. Blocking file I/O: call it
 * off the event loop.
 */
public final class ProcSnapshotter {
    private static final String[] FILES = {"net/tcp", "net/tcp6"};

    private final NetnsDiscovery discovery;
    private final Path proc;
    private final AtomicLong malformedLines = new AtomicLong();

    public ProcSnapshotter() {
        this(new NetnsDiscovery(), Path.of("/proc"));
    }

    public ProcSnapshotter(NetnsDiscovery discovery, Path proc) {
        this.discovery = discovery;
        this.proc = proc;
    }

    /** Every TCP socket of every namespace that has a process in it. */
    public List<SocketRecord> walk() {
        List<SocketRecord> out = new ArrayList<>();
        discovery.discover().pids().forEach((netns, pid) -> out.addAll(walk(netns, pid)));
        return out;
    }

    /** The sockets of one namespace, read through one of its processes; empty if it vanished. */
    public List<SocketRecord> walk(long netns, int pid) {
        List<SocketRecord> out = new ArrayList<>();
        for (String file : FILES) {
            try {
                ProcNetTcp.Parsed parsed = ProcNetTcp.read(netns, proc.resolve(pid + "/" + file));
                out.addAll(parsed.sockets());
                malformedLines.addAndGet(parsed.malformed());
            } catch (IOException e) {
                // out of descriptors: a namespace read as empty would pass for one with no sockets
                if (Procfs.exhausted(e)) throw new java.io.UncheckedIOException(e);
                // the process exited, or IPv6 is disabled (no tcp6): nothing to add
            }
        }
        return out;
    }

    /** Lines skipped as malformed since this snapshotter was made. */
    public long malformedLines() {
        return malformedLines.get();
    }

    /**
     * Counts per state, every TcpState.COUNTED present. Timewait mini-sockets count as
     * TIME_WAIT whatever substate they print (as /proc/net/sockstat's tw does).
     */
    public static Map<TcpState, Long> count(List<SocketRecord> sockets) {
        Map<TcpState, Long> out = new EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) out.put(s, 0L);
        for (SocketRecord r : sockets) {
            TcpState s = r.timewait() ? TcpState.TIME_WAIT : r.state();
            out.merge(s, 1L, Long::sum);
        }
        return out;
    }

    /** {@link #count} per namespace. */
    public static Map<Long, Map<TcpState, Long>> countByNetns(List<SocketRecord> sockets) {
        Map<Long, List<SocketRecord>> byNetns = new TreeMap<>();
        for (SocketRecord r : sockets) byNetns.computeIfAbsent(r.netns(), k -> new ArrayList<>()).add(r);
        Map<Long, Map<TcpState, Long>> out = new TreeMap<>();
        byNetns.forEach((netns, list) -> out.put(netns, count(list)));
        return out;
    }
}
