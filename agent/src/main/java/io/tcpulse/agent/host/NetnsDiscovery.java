package io.tcpulse.agent.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * Finds the host's network namespaces: those of running processes (/proc/PID/ns/net)
 * and those pinned by `ip netns add` (/run/netns/NAME bind mounts). Blocking file I/O:
 * call it off the event loop.
 */
public final class NetnsDiscovery {

    /**
     * paths: inode -> a path setns() can open (a /run/netns name when there is one).
     * pids: inode -> the lowest pid living in it, whose /proc/PID/net/* shows that
     * namespace; namespaces only pinned by a bind mount have none.
     */
    public record Namespaces(Map<Long, Path> paths, Map<Long, Integer> pids) {}

    private final Path proc;
    private final Path runNetns;

    public NetnsDiscovery() {
        this(Path.of("/proc"), Path.of("/run/netns"));
    }

    public NetnsDiscovery(Path proc, Path runNetns) {
        this.proc = proc;
        this.runNetns = runNetns;
    }

    public Namespaces discover() {
        Map<Long, Path> paths = new TreeMap<>();
        Map<Long, Integer> pids = new TreeMap<>();
        for (Path pidDir : Procfs.pidDirs(proc)) {
            int pid = Procfs.pidOf(pidDir);
            Path link = pidDir.resolve("ns/net");
            Long inode = linkInode(link);
            if (inode == null) continue; // the process is gone or hidden from us
            pids.merge(inode, pid, Math::min);
        }
        for (var e : pids.entrySet()) paths.put(e.getKey(), proc.resolve(e.getValue() + "/ns/net"));

        Object nsfsDevice = nsfsDevice();
        for (Path pinned : Procfs.list(runNetns)) {
            try {
                // a name whose mount is gone is a plain file on tmpfs: not a namespace
                if (nsfsDevice != null && !nsfsDevice.equals(Files.getAttribute(pinned, "unix:dev"))) continue;
                long inode = ((Number) Files.getAttribute(pinned, "unix:ino")).longValue();
                paths.put(inode, pinned);
            } catch (IOException | RuntimeException e) {
                // unreadable or removed meanwhile: skip
            }
        }
        return new Namespaces(Collections.unmodifiableMap(paths), Collections.unmodifiableMap(pids));
    }

    /** The inode a namespace link points at: "net:[4026531840]" -> 4026531840. */
    static Long linkInode(Path link) {
        try {
            String target = Files.readSymbolicLink(link).toString();
            int open = target.indexOf('['), close = target.lastIndexOf(']');
            if (open >= 0 && close > open) return Long.parseLong(target.substring(open + 1, close));
            return ((Number) Files.getAttribute(link, "unix:ino")).longValue();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The device of nsfs, where every namespace file lives; null when unknown. */
    private Object nsfsDevice() {
        try {
            return Files.getAttribute(proc.resolve("self/ns/net"), "unix:dev");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Inode of the agent's own network namespace, -1 when /proc does not say. */
    public static long ownNetns() {
        try {
            return ((Number) java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self/ns/net"), "unix:ino")).longValue();
        } catch (Exception e) {
            return -1;
        }
    }
}
