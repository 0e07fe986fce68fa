package io.tcpulse.agent.alert;

import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.PeerReport;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.aggregate.SnapshotSource;
import io.tcpulse.agent.aggregate.TimeWaitReport;
import io.tcpulse.agent.config.AlertsConfig;
import io.tcpulse.agent.model.Event;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Hand-built snapshots, a clock the test moves, a source the test fills. */
final class TestData {
    static final long NS = 4026532001L;
    static final Instant T0 = Instant.parse("2025-01-01T00:00:00Z");
    static final OwnerInfo OWNER = new OwnerInfo(4242, "nginx", "nginx.service", "/system.slice/nginx.service");

    private TestData() {}

    static Health health(boolean probe, long lost) {
        return new Health(probe, probe ? null : "BPF not permitted", probe ? "bpf" : "procfs", 0, 0, lost, 0, 0, 0, 1,
                0, 0, 0, 0, 0, List.of());
    }

    /** Only the parts the rules read; everything else empty. */
    record Parts(List<ListenerStatus> listeners, Map<Long, TimeWaitReport> timewait, Map<Long, CloseWaitReport> closewait,
                 Map<Long, Map<String, Long>> netstat, Map<Long, Snapshot.Resets> resets, Map<Long, Latency> latency,
                 Health health, Map<Long, List<PeerReport>> peers) {
        static Parts empty() {
            return new Parts(List.of(), Map.of(), Map.of(), Map.of(), Map.of(), Map.of(), TestData.health(true, 0), Map.of());
        }

        Parts listeners(ListenerStatus... l) { return new Parts(List.of(l), timewait, closewait, netstat, resets, latency, health, peers); }
        Parts timewait(Map<Long, TimeWaitReport> t) { return new Parts(listeners, t, closewait, netstat, resets, latency, health, peers); }
        Parts closewait(Map<Long, CloseWaitReport> c) { return new Parts(listeners, timewait, c, netstat, resets, latency, health, peers); }
        Parts netstat(Map<Long, Map<String, Long>> n) { return new Parts(listeners, timewait, closewait, n, resets, latency, health, peers); }
        Parts resets(Map<Long, Snapshot.Resets> r) { return new Parts(listeners, timewait, closewait, netstat, r, latency, health, peers); }
        Parts latency(Map<Long, Latency> l) { return new Parts(listeners, timewait, closewait, netstat, resets, l, health, peers); }
        Parts health(Health h) { return new Parts(listeners, timewait, closewait, netstat, resets, latency, h, peers); }
        Parts peers(PeerReport... p) { return new Parts(listeners, timewait, closewait, netstat, resets, latency, health, Map.of(NS, List.of(p))); }

        Snapshot snapshot() {
            return new Snapshot(T0.toEpochMilli(), health, Map.of(), List.of(), latency, List.of(), List.of(),
                    listeners, timewait, closewait, netstat, resets, peers);
        }
    }

    static Snapshot empty() {
        return Parts.empty().snapshot();
    }

    static ListenerStatus listener(int port, long overflows, String verdict) {
        return new ListenerStatus(NS, "10.0.0.1", port, 129, 128, 3, 256, overflows, overflows, 0, 0, 0, OWNER,
                true, verdict);
    }

    /** A clock the test moves by hand. */
    static final class Clock implements InstantSource {
        private Instant now = T0;

        @Override public Instant instant() { return now; }

        void advance(Duration d) { now = now.plus(d); }
    }

    /** What the agent's aggregator would publish, set by the test. */
    static final class Source implements SnapshotSource {
        volatile Snapshot snapshot = empty();

        @Override public Snapshot current() { return snapshot; }

        @Override public AutoCloseable subscribe(Consumer<List<Event>> listener) { return () -> {}; }
    }

    static AlertsConfig.Rule rule(String name, Duration forDuration, Double threshold, Double clearBelow, Duration repeat) {
        return new AlertsConfig.Rule(name, true, forDuration, threshold, clearBelow, repeat, "warning", Map.of());
    }

    static AlertsConfig config(Duration evaluation) {
        return new AlertsConfig(evaluation, null, Map.of(), List.of(), AlertsConfig.Delivery.defaults());
    }
}
