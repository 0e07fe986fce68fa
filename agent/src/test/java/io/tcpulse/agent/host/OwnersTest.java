package io.tcpulse.agent.host;

import io.tcpulse.agent.model.TcpState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class OwnersTest {

    /** A listener of this JVM is found through /proc/net/tcp's inode and the fd links. */
    @Test
    void mapsThisJvmsSocketToItsPid() throws Exception {
        long netns = inode(Path.of("/proc/self/ns/net"));
        try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByName("127.0.0.1"))) {
            long inode = ProcNetTcpTest.find(netns,
                    r -> r.localPort() == server.getLocalPort() && r.state() == TcpState.LISTEN).inode();

            Owner owner = new Owners().scanSockets().get(inode);

            assertNotNull(owner, "no owner for socket inode " + inode);
            assertEquals(ProcessHandle.current().pid(), owner.pid());
            assertEquals(Files.readString(Path.of("/proc/self/comm")).strip(), owner.comm());
        }
    }

    /** A shared socket goes to the lowest pid; comm keeps its spaces but loses the newline. */
    @Test
    void scanReadsFdLinksOfAFakeProc(@TempDir Path proc) throws Exception {
        fakeProcess(proc, 100, "nginx: worker", "socket:[555]", "pipe:[9]");
        fakeProcess(proc, 50, "nginx", "socket:[555]", "socket:[777]");
        fakeProcess(proc, 60, "bash", "/dev/null", "anon_inode:[eventfd]");
        Files.createDirectories(proc.resolve("self"));

        Map<Long, Owner> owners = new Owners(proc, proc, System::nanoTime).scanSockets();

        assertEquals(Map.of(555L, new Owner(50, "nginx"), 777L, new Owner(50, "nginx")), owners);
    }

    @Test
    void scanHoldersListsEveryProcessHoldingASocketInPidOrder(@TempDir Path proc) throws Exception {
        fakeProcess(proc, 300, "worker", "socket:[77]", "socket:[88]");
        fakeProcess(proc, 200, "master", "pipe:[1]", "socket:[77]", "socket:[77]"); // dup()ed: one entry, lowest fd
        Map<Long, java.util.List<io.tcpulse.agent.model.Holder>> holders = new Owners(proc, proc, System::nanoTime).scanHolders();
        assertEquals(java.util.List.of(new io.tcpulse.agent.model.Holder(200, "master", 4, 0),
                new io.tcpulse.agent.model.Holder(300, "worker", 3, 0)), holders.get(77L));
        assertEquals(1, holders.get(88L).size());
        assertEquals(200, new Owners(proc, proc, System::nanoTime).scanSockets().get(77L).pid(), "lowest pid stands");
    }

    @Test
    void socketInodeOfLinks(@TempDir Path dir) throws Exception {
        assertEquals(123, Owners.socketInode(Files.createSymbolicLink(dir.resolve("a"), Path.of("socket:[123]"))));
        assertEquals(0, Owners.socketInode(Files.createSymbolicLink(dir.resolve("b"), Path.of("pipe:[123]"))));
        assertEquals(0, Owners.socketInode(Files.createSymbolicLink(dir.resolve("c"), Path.of("socket:[x]"))));
        assertEquals(0, Owners.socketInode(dir.resolve("missing")));
    }

    /** cgroup v2 ids are the inode numbers of the cgroup directories. */
    @Test
    void findsThisProcessCgroupById() throws Exception {
        Path root = Owners.cgroup2Root(Path.of("/proc/self/mountinfo"));
        Optional<String> own = Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
                .filter(l -> l.startsWith("0::")).map(l -> l.substring(3)).findFirst();
        assumeTrue(own.isPresent() && Files.isDirectory(root), "no cgroup v2 here");
        Path dir = Path.of(root + own.get());
        assumeTrue(Files.isDirectory(dir), "own cgroup not visible under " + root);

        Owners owners = new Owners();
        assertEquals(Optional.of(own.get()), owners.cgroupPath(inode(dir)));
        assertEquals(Optional.of("/"), owners.cgroupPath(inode(root)));
    }

    @Test
    void unknownCgroupIdsAreLookedForAgainAtMostEveryFiveSeconds(@TempDir Path root) throws Exception {
        AtomicLong now = new AtomicLong(0);
        Owners owners = new Owners(root, root, now::get);
        Files.createDirectories(root.resolve("system.slice/early.service"));
        assertEquals(Optional.of("/system.slice/early.service"),
                owners.cgroupPath(inode(root.resolve("system.slice/early.service"))));

        Path late = Files.createDirectories(root.resolve("system.slice/late.service"));
        now.addAndGet(TimeUnit.SECONDS.toNanos(4));
        assertEquals(Optional.empty(), owners.cgroupPath(inode(late)), "walked less than 5 s ago");
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        assertEquals(Optional.of("/system.slice/late.service"), owners.cgroupPath(inode(late)));
        assertEquals(Optional.of("late.service"), owners.unitOf(inode(late)));
    }

    @Test
    void unitOfPicksTheInnermostUnitOrContainer() {
        String id = "4f2a".repeat(16);
        assertEquals("nginx.service", Owners.unitOf("/system.slice/nginx.service"));
        assertEquals("nginx.service", Owners.unitOf("/system.slice/nginx.service/worker"));
        assertEquals("session-3.scope", Owners.unitOf("/user.slice/user-0.slice/session-3.scope"));
        assertEquals("docker-" + id + ".scope", Owners.unitOf("/system.slice/docker-" + id + ".scope"));
        assertEquals(id, Owners.unitOf("/kubepods/burstable/pod1234/" + id));
        assertEquals("system.slice", Owners.unitOf("/system.slice"));
        assertEquals("/", Owners.unitOf("/"));
        assertEquals("/custom/group", Owners.unitOf("/custom/group"));
    }

    @Test
    void cgroup2RootComesFromMountinfo(@TempDir Path dir) throws Exception {
        Path hybrid = Files.writeString(dir.resolve("hybrid"), String.join("\n",
                "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
                "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
                "41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime shared:9 - cgroup2 cgroup2 rw", ""));
        assertEquals(Path.of("/sys/fs/cgroup/un ified"), Owners.cgroup2Root(hybrid));
        Path none = Files.writeString(dir.resolve("none"), "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
        assertEquals(Path.of("/sys/fs/cgroup"), Owners.cgroup2Root(none));
        assertEquals(Path.of("/sys/fs/cgroup"), Owners.cgroup2Root(dir.resolve("missing")));
    }

    private static void fakeProcess(Path proc, int pid, String comm, String... fdTargets) throws Exception {
        Path fd = Files.createDirectories(proc.resolve(pid + "/fd"));
        Files.writeString(proc.resolve(pid + "/comm"), comm + "\n");
        for (int i = 0; i < fdTargets.length; i++) Files.createSymbolicLink(fd.resolve(Integer.toString(i + 3)), Path.of(fdTargets[i]));
    }

    static long inode(Path p) throws Exception {
        return ((Number) Files.getAttribute(p, "unix:ino")).longValue();
    }

    static long inodeUnchecked(Path p) {
        try {
            return inode(p);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
