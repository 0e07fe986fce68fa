package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.model.ProbeError;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import static io.tcpulse.agent.model.TcpState.*;

/** Hand-built snapshots with two namespaces, and a SnapshotSource the test drives. */
final class TestSnapshots {
    static final long NS_A = 4026531840L;
    static final long NS_B = 4026532999L;
    static final long WALL = 1_700_000_000_000L; // 2023-11-14T22:13:20Z

    private TestSnapshots() {}

    static Snapshot sample() {
        Health health = new Health(true, null, "bpf", 1000, 990, 3, 7, 1, 2, 1,
                WALL - 5000, 1234, 42, 17, WALL - 60_000, List.of(
                        new ProbeFeature("stateChanges", true, "every TCP state change", ""),
                        new ProbeFeature("resetsSent", false, "RSTs sent", "the kernel refused on_send_reset: no RSTs sent per port")),
                List.of(new ProbeError("walk", "EMFILE", 4, WALL - 30_000, "/proc: Too many open files", false)), null);
        Latency a = Latency.empty();
        a.handshakeClient().record(250_000_000L, 1); // 0.25 s: bucket le=0.262144
        a.handshakeClient().record(500_000_000L, 1); // 0.5 s: bucket le=0.524288
        a.lifetime().record(40_000_000_000_000L, 1); // 40000 s: above the top bound
        return new Snapshot(WALL, health,
                Map.of(NS_A, counts(ESTABLISHED, 3, TIME_WAIT, 2, LISTEN, 1),
                        NS_B, counts(ESTABLISHED, 1, CLOSE_WAIT, 4)),
                List.of(new TransitionCount(NS_A, SYN_SENT, ESTABLISHED, false, 5),
                        new TransitionCount(NS_B, SYN_SENT, ESTABLISHED, false, 2),
                        new TransitionCount(NS_A, ESTABLISHED, CLOSE_WAIT, false, 9),
                        new TransitionCount(NS_A, FIN_WAIT2, TIME_WAIT, true, 4),
                        new TransitionCount(NS_A, FIN_WAIT2, FIN_WAIT2, true, 1)),
                Map.of(NS_A, a, NS_B, Latency.empty()),
                List.of( // newest first
                        event(3, NS_B, "10.0.0.2", 40000, "192.0.2.7", 5432, CLOSE_WAIT, LAST_ACK, 0, 0),
                        event(2, NS_A, "::1", 8080, "2001:db8:0:0:1:0:0:1", 51000, ESTABLISHED, CLOSE_WAIT, 4321, 1500_000_000L),
                        unknownState(1, NS_A),
                        event(0, NS_A, "127.0.0.1", 51000, "127.0.0.1", 8080, SYN_SENT, ESTABLISHED, 250_000, 0)),
                List.of(), List.of(), Map.of(), Map.of(), Map.of(), Map.of());
    }

    static Map<TcpState, Long> counts(Object... stateThenCount) {
        Map<TcpState, Long> m = new EnumMap<>(TcpState.class);
        for (TcpState s : TcpState.COUNTED) m.put(s, 0L);
        for (int i = 0; i < stateThenCount.length; i += 2) {
            m.put((TcpState) stateThenCount[i], ((Number) stateThenCount[i + 1]).longValue());
        }
        return m;
    }

    static Event event(int seq, long netns, String local, int localPort, String remote, int remotePort,
                       TcpState from, TcpState to, long prevStateNs, long ageNs) {
        InetAddress l = literal(local), r = literal(remote);
        return new Event(1_000_000L * seq, WALL + seq, Event.Kind.STATE, netns, l.getAddress().length == 4 ? 4 : 6,
                l, localPort, r, remotePort, from, to, from.kernel, to.kernel, prevStateNs, ageNs,
                100 + seq, 7, seq == 0 ? 4242 : 0, seq == 0 ? "curl" : "", 1, Event.F_OWNER_KNOWN, 0);
    }

    static Event unknownState(int seq, long netns) {
        InetAddress any = literal("0.0.0.0");
        return new Event(1_000_000L * seq, WALL + seq, Event.Kind.STATE, netns, 4, any, 1, any, 2,
                null, null, 99, 98, 0, 0, 100 + seq, 0, 0, "", 1, 0, 0);
    }

    /** Literal addresses only: getByName on a literal does no lookup. */
    static InetAddress literal(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(s, e);
        }
    }

    /** A source whose snapshot and event batches the test controls. */
    static final class FakeSource implements SnapshotSource {
        volatile Snapshot snapshot;
        final List<Consumer<List<Event>>> listeners = new CopyOnWriteArrayList<>();

        FakeSource(Snapshot snapshot) {
            this.snapshot = snapshot;
        }

        @Override
        public Snapshot current() {
            return snapshot;
        }

        @Override
        public AutoCloseable subscribe(Consumer<List<Event>> listener) {
            listeners.add(listener);
            return () -> listeners.remove(listener);
        }

        /** Delivers a batch the way the probe thread would: from a thread of its own. */
        void publish(List<Event> batch) throws InterruptedException {
            Thread t = new Thread(() -> listeners.forEach(l -> l.accept(batch)), "fake-probe");
            t.start();
            t.join();
        }
    }
}
