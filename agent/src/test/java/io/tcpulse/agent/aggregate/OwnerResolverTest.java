package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.Owners;
import io.tcpulse.agent.model.Holder;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.probe.HolderDecoder;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Owners from holders walks handed in by hand, on an injected clock. */
class OwnerResolverTest {
    long now = 1_000_000_000L;
    final AtomicInteger walks = new AtomicInteger();
    Map<Long, List<Holder>> held = new HashMap<>();
    boolean complete = true;
    int records = -1; // -1: as many as held

    final HolderCache cache = new HolderCache(() -> now);
    final OwnerResolver resolver = new OwnerResolver(new Owners(Path.of("/nonexistent"), Path.of("/nonexistent"), () -> now), cache);

    OwnerResolverTest() {
        cache.source(() -> {
            walks.incrementAndGet();
            return new HolderDecoder.Walk(Map.copyOf(held), Map.of(), records < 0 ? held.size() : records, complete);
        });
    }

    static SocketRecord closeWait(long inode, int probePid, long stateSinceNs) {
        InetAddress lo = InetAddress.getLoopbackAddress();
        return new SocketRecord(1, TcpState.CLOSE_WAIT, lo, 8080, lo, 40000, 7, inode, 0, probePid,
                probePid == 0 ? "" : "master", 0, 0, 0, 0, 0, stateSinceNs, 0, 0, false, false);
    }

    static Holder h(int pid, String comm) {
        return new Holder(pid, comm, 5, 0);
    }

    @Test void theHoldingProcessNotTheOneTheProbeSaw() {
        held.put(10L, List.of(h(300, "worker")));
        OwnerInfo o = resolver.apply(closeWait(10, 200, 1));
        assertEquals(300, o.pid());
        assertEquals("worker", o.comm());
        assertNull(o.holders(), "one holder: no list");
    }

    @Test void severalHoldersTheCreatorMarkedAndNamed() {
        held.put(10L, List.of(h(200, "parent"), h(300, "child")));
        OwnerInfo o = resolver.apply(closeWait(10, 300, 1));
        assertEquals(300, o.pid(), "the creator, where it still holds it");
        assertEquals(List.of(new OwnerInfo.HolderInfo(200, "parent", "", "", false),
                new OwnerInfo.HolderInfo(300, "child", "", "", true)), o.holders());
        // a creator that no longer holds it: the lowest pid, nobody marked
        OwnerInfo other = resolver.apply(closeWait(10, 99, 1));
        assertEquals(200, other.pid());
        assertTrue(other.holders().stream().noneMatch(OwnerInfo.HolderInfo::creator));
    }

    @Test void noProcessHoldsItWhenTheWalkCameAfter() {
        held.put(10L, List.of(h(300, "worker")));
        resolver.apply(closeWait(10, 200, 1)); // first walk at now
        now += 5_000_000_000L; // within MAX_AGE: no new walk unless a socket is unknown
        OwnerInfo o = resolver.apply(closeWait(11, 200, 1)); // in its state before the walk: not held
        assertTrue(o.unheld(), o.toString());
        assertEquals(0, o.pid());
        assertEquals(1, walks.get());
        // one that got here after the walk makes a new one (once a second at most)
        held.put(12L, List.of(h(400, "late")));
        assertEquals(400, resolver.apply(closeWait(12, 0, now - 1)).pid());
        assertEquals(2, walks.get());
        assertEquals(2, walks.get(), "walked again only because 12 was new");
    }

    @Test void reusedForTenSecondsThenWalkedAgain() {
        held.put(10L, List.of(h(300, "worker")));
        resolver.apply(closeWait(10, 0, 1));
        now += 9_000_000_000L;
        resolver.apply(closeWait(10, 0, 1));
        assertEquals(1, walks.get());
        now += 2_000_000_000L;
        resolver.apply(closeWait(10, 0, 1));
        assertEquals(2, walks.get());
    }

    @Test void bigWalksAreReusedLongerUpToThirtySeconds() {
        held.put(10L, List.of(h(300, "worker")));
        records = 100_000; // 2.5 us a record: 0.25 s, reused for 100 times that
        resolver.apply(closeWait(10, 0, 1));
        now += 24_000_000_000L;
        resolver.apply(closeWait(10, 0, 1));
        assertEquals(1, walks.get());
        now += 2_000_000_000L;
        resolver.apply(closeWait(10, 0, 1));
        assertEquals(2, walks.get());
        records = 10_000_000; // capped: 30 s
        now += 31_000_000_000L;
        resolver.apply(closeWait(10, 0, 1));
        assertEquals(3, walks.get());
    }

    @Test void anIncompleteWalkNeverSaysUnheldTheProbesOwnerStands() {
        complete = false; // a /proc scan that could not read every process
        OwnerInfo o = resolver.apply(closeWait(10, 200, 1));
        assertEquals(200, o.pid());
        assertEquals("master", o.comm());
        assertNull(o.holders());
    }

    @Test void withoutAnyWalkTheProbesOwner() {
        cache.source(() -> null); // the kernel offers none and there is no fallback
        OwnerInfo o = resolver.apply(closeWait(10, 200, 1));
        assertEquals(200, o.pid());
        assertFalse(cache.available());
    }

    @Test void closeWaitGroupsByHolderWithEveryHolderListed() {
        held.put(10L, List.of(h(200, "parent"), h(300, "child")));
        held.put(11L, List.of(h(200, "parent"), h(300, "child")));
        held.put(12L, List.of(h(500, "worker")));
        WalkAccumulator w = new WalkAccumulator(Map.of());
        w.accept(closeWait(10, 200, 1), true);
        w.accept(closeWait(11, 200, 1), true);
        w.accept(closeWait(12, 100, 1), true);
        w.walked(1);
        CloseWaitReport r = new ClosingTracker(60_000).closewait(w, resolver, Map.of(), now, 0).get(1L);
        assertEquals(3, r.total());
        CloseWaitReport.ByOwner parent = r.byOwner().get(0);
        assertEquals(200, parent.pid());
        assertEquals(2, parent.count());
        assertEquals(List.of(200, 300), parent.holders().stream().map(OwnerInfo.HolderInfo::pid).toList());
        CloseWaitReport.ByOwner worker = r.byOwner().get(1);
        assertEquals(500, worker.pid());
        assertNull(worker.holders());
    }
}
