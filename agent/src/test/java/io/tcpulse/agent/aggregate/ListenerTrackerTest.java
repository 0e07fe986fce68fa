package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.NetnsInfo;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Overflows per listener from the namespace's ListenOverflows and the listeners' sk_drops. */
class ListenerTrackerTest {
    static final long NS = 4026532000L;

    static SocketRecord listener(long id, int port, long drops) {
        return new SocketRecord(NS, TcpState.LISTEN, InetAddress.getLoopbackAddress(), port, null, 0, id, 0, 0, 0, "",
                0, 0, 2, 0, drops, 0, 0, 0, false, false);
    }

    static Map<Long, NetnsInfo> overflows(long n) {
        return Map.of(NS, new NetnsInfo(Map.of("ListenOverflows", n), 0, 1, 128, 4096, 32768, 60999, 0, 2, 262144, 60, 0, -1));
    }

    static long overflowsOf(List<ListenerStatus> ls, int port) {
        return ls.stream().filter(l -> l.port() == port).findFirst().orElseThrow().overflows();
    }

    List<ListenerStatus> walk(ListenerTracker t, List<SocketRecord> ls, Map<Long, NetnsInfo> info) {
        return t.update(ls, info, Map.of(), l -> OwnerInfo.UNKNOWN);
    }

    @Test
    void overflowsSeenInDropsBeforeTheNamespacesCountersAreStillGiven() {
        ListenerTracker t = new ListenerTracker();
        walk(t, List.of(), overflows(3)); // start: a baseline only
        // a listener born after start overflows 25 times; this walk's counters are old
        walk(t, List.of(listener(7, 8201, 25), listener(8, 8202, 0)), overflows(3));
        // the namespace's counters are read again only later, when the drops no longer move
        List<ListenerStatus> ls = walk(t, List.of(listener(7, 8201, 25), listener(8, 8202, 0)), overflows(28));
        assertEquals(25, overflowsOf(ls, 8201));
        assertEquals(0, overflowsOf(ls, 8202));
        // nothing is given twice
        ls = walk(t, List.of(listener(7, 8201, 25), listener(8, 8202, 0)), overflows(28));
        assertEquals(25, overflowsOf(ls, 8201));
    }

    @Test
    void aClosedListenersOverflowsAreNotGivenToAnother() {
        ListenerTracker t = new ListenerTracker();
        walk(t, List.of(), overflows(0));
        walk(t, List.of(listener(7, 8201, 10), listener(8, 8202, 0)), overflows(10));
        // 8201 closes; 8202 drops 4 (of which 4 overflows)
        List<ListenerStatus> ls = walk(t, List.of(listener(8, 8202, 4)), overflows(14));
        assertEquals(4, overflowsOf(ls, 8202));
    }
}
