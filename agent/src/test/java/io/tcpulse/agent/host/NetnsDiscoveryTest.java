package io.tcpulse.agent.host;

import io.tcpulse.agent.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class NetnsDiscoveryTest {
    private static final Path RUN_NETNS = Path.of("/run/netns");

    @Test
    void findsTheTestJvmsOwnNamespace() throws Exception {
        long own = OwnersTest.inode(Path.of("/proc/self/ns/net")); // stat -L
        NetnsDiscovery.Namespaces ns = new NetnsDiscovery().discover();

        Integer pid = ns.pids().get(own);
        assertNotNull(pid, "own netns " + own + " not in " + ns.pids().keySet());
        assertTrue(pid <= ProcessHandle.current().pid(), "the lowest pid represents a namespace");
        assertEquals(own, NetnsDiscovery.linkInode(Path.of("/proc/" + pid + "/ns/net")));
        assertEquals(own, OwnersTest.inode(ns.paths().get(own)));
    }

    @Test
    void linkTextGivesTheInode() {
        assertEquals(OwnersTest.inodeUnchecked(Path.of("/proc/self/ns/net")),
                NetnsDiscovery.linkInode(Path.of("/proc/self/ns/net")));
        assertNull(NetnsDiscovery.linkInode(Path.of("/proc/self/ns/missing")));
    }

    /** A name left in /run/netns after its mount went away is a plain file, not a namespace. */
    @Test
    void ignoresStaleNamesInRunNetns(@TempDir Path runNetns) throws Exception {
        Path stale = Files.createFile(runNetns.resolve("stale"));
        NetnsDiscovery.Namespaces ns = new NetnsDiscovery(Path.of("/proc"), runNetns).discover();
        assertFalse(ns.paths().containsKey(OwnersTest.inode(stale)));
        assertFalse(ns.paths().containsValue(stale));
    }

    /** A namespace with a process in it: found with that process as its representative. */
    @Test
    void findsANamespaceMadeByUnshare() throws Exception {
        assumeTrue(canRun("unshare", "-n", "true"), "unshare -n not permitted here");
        long own = OwnersTest.inode(Path.of("/proc/self/ns/net"));
        Process sleeper = new ProcessBuilder("unshare", "-n", "sleep", "30").start();
        try {
            Path link = Path.of("/proc/" + sleeper.pid() + "/ns/net");
            // until unshare has switched namespaces
            Long inode = Wait.until(Duration.ofSeconds(2), Duration.ofMillis(20), () -> NetnsDiscovery.linkInode(link),
                    i -> i != null && i != own, i -> "unshare's namespace: " + i + ", ours " + own);
            assertNotNull(inode);
            assertNotEquals(own, inode.longValue());

            NetnsDiscovery.Namespaces ns = new NetnsDiscovery().discover();

            assertEquals((int) sleeper.pid(), ns.pids().get(inode));
            assertEquals(link, ns.paths().get(inode));
        } finally {
            sleeper.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** A namespace pinned by `ip netns add`: found through /run/netns, with no process. */
    @Test
    void findsANamespacePinnedInRunNetns() throws Exception {
        String name = "tcpulse-test-" + ProcessHandle.current().pid();
        assumeTrue(canRun("ip", "netns", "add", name), "ip netns add not permitted here");
        try {
            Path pinned = RUN_NETNS.resolve(name);
            long inode = OwnersTest.inode(pinned);

            NetnsDiscovery.Namespaces ns = new NetnsDiscovery().discover();

            assertEquals(pinned, ns.paths().get(inode));
            assertFalse(ns.pids().containsKey(inode));
        } finally {
            assertTrue(canRun("ip", "netns", "del", name));
        }
    }

    static boolean canRun(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
