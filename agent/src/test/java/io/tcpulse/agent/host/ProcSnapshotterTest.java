package io.tcpulse.agent.host;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ProcSnapshotterTest {

    /** Many processes share the host namespace; its sockets must still come once. */
    @Test
    void walkFindsThisJvmsListenerOnceWithItsNamespace() throws Exception {
        long own = OwnersTest.inode(Path.of("/proc/self/ns/net"));
        try (ServerSocket server = new ServerSocket(0, 9, InetAddress.getByName("127.0.0.1"))) {
            ProcSnapshotter snapshotter = new ProcSnapshotter();

            List<SocketRecord> mine = snapshotter.walk().stream()
                    .filter(r -> r.localPort() == server.getLocalPort() && r.state() == TcpState.LISTEN)
                    .toList();

            assertEquals(1, mine.size(), mine.toString());
            assertEquals(own, mine.get(0).netns());
            assertEquals(0, snapshotter.malformedLines());
        }
    }

    @Test
    void aVanishedProcessGivesNothing() {
        assertEquals(List.of(), new ProcSnapshotter().walk(1, Integer.MAX_VALUE));
    }

    @Test
    void countsTimewaitSocketsAsTimeWaitWhateverTheirSubstate() {
        List<SocketRecord> sockets = List.of(
                record(TcpState.ESTABLISHED, false, false),
                record(TcpState.ESTABLISHED, false, false),
                record(TcpState.FIN_WAIT2, true, false),  // timewait sock, substate FIN_WAIT2
                record(TcpState.TIME_WAIT, true, false),
                record(TcpState.FIN_WAIT2, false, false), // a full, orphaned FIN_WAIT2 socket
                record(TcpState.NEW_SYN_RECV, false, true));

        Map<TcpState, Long> counts = ProcSnapshotter.count(sockets);

        assertEquals(TcpState.COUNTED.length, counts.size());
        assertEquals(2, counts.get(TcpState.ESTABLISHED));
        assertEquals(2, counts.get(TcpState.TIME_WAIT));
        assertEquals(1, counts.get(TcpState.FIN_WAIT2));
        assertEquals(1, counts.get(TcpState.NEW_SYN_RECV));
        assertEquals(0, counts.get(TcpState.LISTEN));
        assertEquals(Map.of(7L, counts), ProcSnapshotter.countByNetns(sockets));
    }

    private static SocketRecord record(TcpState state, boolean timewait, boolean request) {
        InetAddress any = InetAddress.getLoopbackAddress();
        return new SocketRecord(7, state, any, 1, any, 2, 0, 0, 0, 0, "", 0,
                0, 0, 0, 0, 0, 0, 0, timewait, request);
    }
}
