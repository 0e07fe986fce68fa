package io.tcpulse.agent.host;

import io.tcpulse.agent.model.Holder;
import io.tcpulse.agent.probe.HolderDecoder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The cgroup (systemd unit or container) behind a cgroup id, and the processes holding a
 * socket inode from /proc (the fallback where the kernel's holders walk is not available).
 * Blocking file I/O: call it off the event loop.
 */
public final class Owners {
    /** A cgroup id not found is looked for again at most this often (cgroups come and go). */
    static final long REWALK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final Pattern CONTAINER_ID = Pattern.compile("[0-9a-f]{64}");
    private static final String SOCKET_LINK = "socket:[";

    private final Path cgroupRoot;
    private final Path proc;
    private final LongSupplier nanoTime;

    private final Map<Long, String> cgroupPaths = new HashMap<>(); // guarded by this
    private boolean walked;                                         // guarded by this
    private long lastWalkNanos;                                     // guarded by this

    /** The host's cgroup v2 hierarchy (found in /proc/self/mountinfo) and /proc. */
    public Owners() {
        this(cgroup2Root(Path.of("/proc/self/mountinfo")), Path.of("/proc"), System::nanoTime);
    }

    public Owners(Path cgroupRoot, Path proc, LongSupplier nanoTime) {
        this.cgroupRoot = cgroupRoot;
        this.proc = proc;
        this.nanoTime = nanoTime;
    }

    public Path cgroupRoot() {
        return cgroupRoot;
    }

    // ---- cgroups ----

    /**
     * The cgroup v2 path ("/system.slice/sshd.service", "/" for the root) of an id, which
     * in cgroup v2 is the inode number of the cgroup's directory.
     */
    public synchronized Optional<String> cgroupPath(long cgroupId) {
        String path = cgroupPaths.get(cgroupId);
        if (path == null && (!walked || nanoTime.getAsLong() - lastWalkNanos >= REWALK_NANOS)) {
            walkCgroups();
            path = cgroupPaths.get(cgroupId);
        }
        return Optional.ofNullable(path);
    }

    /** The unit (or container) a cgroup id belongs to, e.g. "nginx.service". */
    public Optional<String> unitOf(long cgroupId) {
        return cgroupPath(cgroupId).map(Owners::unitOf);
    }

    /**
     * The last path component naming a systemd unit (.service, .scope, .slice) or a
     * container (64 hex digits), else the whole path.
     */
    public static String unitOf(String cgroupPath) {
        String[] parts = cgroupPath.split("/");
        for (int i = parts.length - 1; i >= 0; i--) {
            String p = parts[i];
            if (p.endsWith(".service") || p.endsWith(".scope") || p.endsWith(".slice")
                    || CONTAINER_ID.matcher(p).matches()) {
                return p;
            }
        }
        return cgroupPath;
    }

    private void walkCgroups() {
        walked = true;
        lastWalkNanos = nanoTime.getAsLong();
        cgroupPaths.clear(); // ids of removed cgroups may be reused
        Deque<Path> todo = new ArrayDeque<>(List.of(cgroupRoot));
        try {
            while (!todo.isEmpty()) {
                Path dir = todo.pop();
                try {
                    long inode = ((Number) Files.getAttribute(dir, "unix:ino", LinkOption.NOFOLLOW_LINKS)).longValue();
                    String rel = cgroupRoot.relativize(dir).toString();
                    cgroupPaths.put(inode, "/" + rel);
                } catch (IOException | RuntimeException e) {
                    continue; // removed meanwhile
                }
                for (Path child : Procfs.list(dir, p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))) {
                    todo.push(child);
                }
            }
        } catch (java.io.UncheckedIOException e) { // out of descriptors: walk again next time, not in 5 s
            walked = false;
            throw e;
        }
    }

    /**
     * Where cgroup v2 is mounted: the first cgroup2 line of mountinfo, else
     * /sys/fs/cgroup (hybrid hosts mount it at /sys/fs/cgroup/unified).
     */
    public static Path cgroup2Root(Path mountinfo) {
        try {
            for (String line : Files.readAllLines(mountinfo, StandardCharsets.UTF_8)) {
                // id parent major:minor root mountpoint options... - fstype source superoptions
                int dash = line.indexOf(" - ");
                if (dash < 0) continue;
                String[] tail = line.substring(dash + 3).split(" ");
                String[] head = line.substring(0, dash).split(" ");
                if (tail.length > 0 && tail[0].equals("cgroup2") && head.length > 4) {
                    return Path.of(unescapeMountPath(head[4]));
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the usual place
        }
        return Path.of("/sys/fs/cgroup");
    }

    /** mountinfo writes space, tab, newline and backslash as \ooo octal escapes. */
    static String unescapeMountPath(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 4 <= s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    // ---- processes ----

    /**
     * Socket inode -> the process holding it, from the /proc/PID/fd/N -> "socket:[INODE]"
     * links, the way `ss -p` finds them. A socket shared by several processes (a
     * pre-forked listener) goes to the lowest pid, usually the parent. Processes this
     * agent may not inspect are skipped.
     */
    public Map<Long, Owner> scanSockets() {
        Map<Long, Owner> owners = new HashMap<>();
        scanHolders().forEach((inode, hs) -> owners.put(inode, new Owner(hs.get(0).pid(), hs.get(0).comm())));
        return owners;
    }

    /**
     * Socket inode -> every process holding it (one entry per process: its lowest fd), in
     * pid order; the fallback where the kernel's holders walk is not available. Sockets of
     * processes this agent may not inspect are missing.
     */
    public Map<Long, List<Holder>> scanHolders() {
        Map<Long, List<Holder>> holders = new HashMap<>();
        for (Path pidDir : Procfs.pidDirs(proc)) {
            int pid = Procfs.pidOf(pidDir);
            String comm = null;
            for (Path fd : Procfs.list(pidDir.resolve("fd"))) {
                long inode = socketInode(fd);
                if (inode == 0) continue;
                if (comm == null) comm = comm(pidDir);
                int fdNum;
                try {
                    fdNum = Integer.parseInt(fd.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue;
                }
                List<Holder> l = holders.computeIfAbsent(inode, k -> new ArrayList<>(1));
                Holder h = new Holder(pid, comm, fdNum, 0);
                int same = -1;
                for (int i = 0; i < l.size(); i++) if (l.get(i).pid() == pid) same = i;
                if (same < 0) l.add(h);
                else if (fdNum < l.get(same).fd()) l.set(same, h);
            }
        }
        HolderDecoder.inPidOrder(holders);
        return holders;
    }

    /** The inode of a "socket:[INODE]" fd link, 0 for anything else. */
    static long socketInode(Path fd) {
        try {
            String target = Files.readSymbolicLink(fd).toString();
            if (!target.startsWith(SOCKET_LINK) || !target.endsWith("]")) return 0;
            return Long.parseLong(target, SOCKET_LINK.length(), target.length() - 1, 10);
        } catch (IOException | RuntimeException e) {
            return 0; // closed meanwhile, or not ours to read
        }
    }

    private static String comm(Path pidDir) {
        try {
            String comm = Files.readString(pidDir.resolve("comm"), StandardCharsets.UTF_8);
            return comm.endsWith("\n") ? comm.substring(0, comm.length() - 1) : comm;
        } catch (IOException e) {
            if (Procfs.exhausted(e)) throw new java.io.UncheckedIOException(e); // not "no name": no descriptor
            return "";
        } catch (RuntimeException e) {
            return "";
        }
    }
}
