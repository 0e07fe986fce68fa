package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Histogram;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/** The JSON shapes of the HTTP API, shared by the REST handlers and the SSE stream. */
final class ApiJson {
    private ApiJson() {}

    static JsonObject health(Health h) {
        return new JsonObject()
                .put("status", h.status())
                .put("probe", new JsonObject()
                        .put("available", h.probeAvailable())
                        .put("cause", h.cause())
                        .put("mode", h.mode())
                        .put("rememberedSockets", h.rememberedSockets())
                        .put("features", features(h))
                        .put("errors", errors(h))
                        .put("outage", outage(h))
                        .put("runStats", h.programs().runStats())
                        .put("programs", programs(h)))
                .put("events", new JsonObject()
                        .put("seen", h.seen())
                        .put("consumed", h.consumed())
                        .put("lost", h.lost())
                        .put("sampledOut", h.sampledOut())
                        .put("mapFull", h.mapFull()).put("mapFullByMap", new JsonObject(new java.util.LinkedHashMap<String, Object>(h.mapFullByMap())))
                        .put("decodeErrors", h.decodeErrors())
                        .put("stateChangesLost", h.programs().stateChangesLost())
                        .put("samplingRatio", h.samplingRatio())
                        .put("wakeups", new JsonObject()
                                .put("backlog", h.wakeups().backlog())
                                .put("firstEvent", h.wakeups().firstEvent())))
                .put("walk", new JsonObject()
                        .put("lastMillis", h.lastWalkMillis())
                        .put("micros", h.lastWalkMicros())
                        .put("sockets", h.walkedSockets())
                        .put("skipped", h.skippedWalks())
                        .put("listenerWalks", h.listenerWalks())
                        .put("reconcileIntervalMillis", h.drift().intervalMillis())
                        .put("drift", new JsonObject()
                                .put("checkedWalks", h.drift().checkedWalks())
                                .put("sockets", h.drift().sockets())
                                .put("unsettledWalks", h.drift().unsettledWalks())
                                .put("byState", new JsonObject(new java.util.LinkedHashMap<String, Object>(h.drift().byState())))))
                .put("holders", new JsonObject()
                        .put("source", h.holders().source())
                        .put("walks", h.holders().walks())
                        .put("lastMillis", h.holders().lastMillis())
                        .put("micros", h.holders().lastMicros()))
                .put("startedMillis", h.startedMillis());
    }

    /**
     * [{"step","errno","count","lastMillis","message","failing"}]: each step of the probe loop
     * that failed, by cause; failing while it has not succeeded since.
     */
    private static JsonArray errors(Health h) {
        JsonArray out = new JsonArray();
        h.errors().forEach(e -> out.add(new JsonObject().put("step", e.step()).put("errno", e.errno())
                .put("count", e.count()).put("lastMillis", e.lastMillis()).put("message", e.message())
                .put("failing", e.failing())));
        return out;
    }

    /**
     * [{"name","feature","runs","runSeconds","recursionMisses"}]: each attached program as the
     * kernel counts it; runs and runSeconds are null while the kernel does not count run time.
     */
    private static JsonArray programs(Health h) {
        JsonArray out = new JsonArray();
        boolean counted = "on".equals(h.programs().runStats());
        h.programs().list().forEach(p -> out.add(new JsonObject().put("name", p.name()).put("feature", p.feature())
                .put("runs", counted ? p.runs() : null).put("runSeconds", counted ? p.runNanos() / 1e9 : null)
                .put("recursionMisses", p.recursionMisses())));
        return out;
    }

    /** {"cpuSeconds","residentBytes","heapUsedBytes","heapMaxBytes","openFds"}: what the agent costs now. */
    static JsonObject agent(io.tcpulse.agent.host.SelfUsage u) {
        return new JsonObject()
                .put("cpuSeconds", u.cpuSeconds())
                .put("residentBytes", u.residentBytes())
                .put("heapUsedBytes", u.heapUsedBytes())
                .put("heapCommittedBytes", u.heapCommittedBytes())
                .put("heapMaxBytes", u.heapMaxBytes())
                .put("openFds", u.openFds());
    }

    /** {"step","errno","sinceMillis","message","exitAtMillis"} while collection fails, else null. */
    private static JsonObject outage(Health h) {
        var o = h.outage();
        if (o == null) return null;
        return new JsonObject().put("step", o.step()).put("errno", o.errno()).put("sinceMillis", o.sinceMillis())
                .put("message", o.message()).put("exitAtMillis", o.exitAtMillis() == 0 ? null : o.exitAtMillis());
    }

    /** {"connections","maxConnections","refused","headerTimeouts","fdLimit","fdReserve"}: the HTTP side's share of descriptors. */
    static JsonObject http(ConnectionGuard g) {
        return new JsonObject()
                .put("connections", g.open())
                .put("maxConnections", g.maxConnections())
                .put("refused", g.refused())
                .put("headerTimeouts", g.headerTimeouts())
                .put("perClientRefused", g.perClientRefused())
                .put("streamsRefused", g.streamsRefused())
                .put("fdLimit", g.budget().fdLimit() == Long.MAX_VALUE ? null : g.budget().fdLimit())
                .put("fdReserve", ConnectionGuard.FD_RESERVE);
    }

    /** {"file","loadedMillis","lastError","restartRequired"}: the config in force and how its last reload went. */
    static JsonObject config(ApiServer.ConfigState c) {
        return new JsonObject()
                .put("file", c.file())
                .put("loadedMillis", c.loadedMillis())
                .put("lastError", c.lastError())
                .put("restartRequired", new JsonArray(c.restartRequired()));
    }

    /** [{"name","on","what","reason"}]: what the probe does on this kernel; reason says why a feature is off. */
    private static JsonArray features(Health h) {
        JsonArray out = new JsonArray();
        h.features().forEach(f -> out.add(new JsonObject().put("name", f.name()).put("on", f.on())
                .put("what", f.what()).put("reason", f.on() ? null : f.reason())));
        return out;
    }

    /** {"states":{...every counted state...},"netns":[known inodes]}. */
    static JsonObject states(Snapshot s, Long netns) {
        JsonObject counts = new JsonObject();
        s.statesOf(netns).forEach((state, n) -> counts.put(state.name(), n));
        return new JsonObject().put("states", counts).put("netns", new JsonArray(List.copyOf(knownNetns(s))));
    }

    /** Every namespace the snapshot mentions, in numeric order. */
    static SortedSet<Long> knownNetns(Snapshot s) {
        SortedSet<Long> all = new TreeSet<>(s.states().keySet());
        all.addAll(s.latency().keySet());
        for (TransitionCount t : s.transitions()) all.add(t.netns());
        return all;
    }

    /** Transitions of one namespace, or merged over all when netns is null; largest first. */
    static JsonObject transitions(Snapshot s, Long netns) {
        record Key(TcpState from, TcpState to, boolean derived) {}
        Map<Key, Long> merged = new LinkedHashMap<>();
        for (TransitionCount t : s.transitions()) {
            if (!sameNetns(netns, t.netns())) continue;
            merged.merge(new Key(t.from(), t.to(), t.derived()), t.count(), Long::sum);
        }
        List<Map.Entry<Key, Long>> sorted = new ArrayList<>(merged.entrySet());
        sorted.sort(Map.Entry.<Key, Long>comparingByValue(Comparator.reverseOrder()));
        JsonArray out = new JsonArray();
        for (var e : sorted) {
            out.add(new JsonObject()
                    .put("from", stateName(e.getKey().from(), -1))
                    .put("to", stateName(e.getKey().to(), -1))
                    .put("count", e.getValue())
                    .put("derived", e.getKey().derived()));
        }
        return new JsonObject().put("transitions", out);
    }

    static JsonObject event(Event e) {
        return new JsonObject()
                .put("time", Instant.ofEpochMilli(e.wallMillis()).toString())
                .put("tsNs", e.tsNs())
                .put("kind", e.kind() == null ? Event.Kind.UNKNOWN.name() : e.kind().name())
                .put("netns", e.netns())
                .put("family", e.family())
                .put("local", address(e.local()))
                .put("localPort", e.localPort())
                .put("remote", address(e.remote()))
                .put("remotePort", e.remotePort())
                .put("from", stateName(e.from(), e.fromRaw()))
                .put("to", stateName(e.to(), e.toRaw()))
                .put("prevStateMs", millisOrNull(e.prevStateNs()))
                .put("ageMs", millisOrNull(e.ageNs()))
                .put("sockId", e.sockId())
                .put("pid", e.pid() == 0 ? null : e.pid())
                .put("comm", e.comm())
                .put("cgroupId", e.cgroupId())
                .put("sampleRatio", e.sampleRatio());
    }

    static JsonObject latency(Latency l) {
        return new JsonObject()
                .put("handshakeClient", histogram(l.handshakeClient()))
                .put("handshakeServer", histogram(l.handshakeServer()))
                .put("lifetime", histogram(l.lifetime()));
    }

    /**
     * Percentiles in seconds (null when empty) and per-bucket counts (not cumulative, for
     * bar charts). le is the bucket's upper bound in seconds, null for the overflow bucket.
     * max is the upper bound of the highest non-empty bucket.
     */
    static JsonObject histogram(Histogram h) {
        JsonArray buckets = new JsonArray();
        for (int i = 0; i <= Histogram.BUCKETS; i++) {
            buckets.add(new JsonObject()
                    .put("le", i < Histogram.BUCKETS ? Histogram.UPPER_SECONDS[i] : null)
                    .put("count", h.bucket(i)));
        }
        return new JsonObject()
                .put("count", h.count())
                .put("sum", h.sumSeconds())
                .put("p50", finiteOrNull(h.percentile(50)))
                .put("p90", finiteOrNull(h.percentile(90)))
                .put("p99", finiteOrNull(h.percentile(99)))
                .put("p999", finiteOrNull(h.percentile(99.9)))
                .put("max", finiteOrNull(h.percentile(100)))
                .put("buckets", buckets);
    }

    /**
     * What connections carried, into o: retransmits, segmentsSent, retransmitRatio (null before
     * any segment), bytesSent, bytesReceived, rtt {count, p50, p90, p99} in seconds.
     */
    static JsonObject carried(JsonObject o, io.tcpulse.agent.aggregate.Carried c) {
        Histogram h = c.rtt();
        return o.put("retransmits", c.retransmits()).put("segmentsSent", c.segmentsSent())
                .put("retransmitRatio", c.segmentsSent() == 0 ? null : (double) c.retransmits() / c.segmentsSent())
                .put("bytesSent", c.bytesSent()).put("bytesReceived", c.bytesReceived())
                .put("rtt", new JsonObject().put("count", h.count()).put("p50", finiteOrNull(h.percentile(50)))
                        .put("p90", finiteOrNull(h.percentile(90))).put("p99", finiteOrNull(h.percentile(99))));
    }

    /** Sockets by state, the states with none left out. */
    static JsonObject states(Map<TcpState, Long> byState) {
        JsonObject states = new JsonObject();
        for (TcpState s : TcpState.COUNTED) {
            Long n = byState.get(s);
            if (n != null && n > 0) states.put(s.name(), n);
        }
        return states;
    }

    /** The state's name, or UNKNOWN(n) for a number this agent does not know. */
    static String stateName(TcpState s, int raw) {
        if (s != null) return s.name();
        return raw < 0 ? "UNKNOWN" : "UNKNOWN(" + raw + ")";
    }

    /** Address text without any name lookup, as people read it (RFC 5952): see {@link io.tcpulse.agent.model.Addresses}. */
    static String address(InetAddress a) {
        return io.tcpulse.agent.model.Addresses.text(a);
    }

    private static Double millisOrNull(long nanos) {
        return nanos == 0 ? null : nanos / 1e6;
    }

    private static Double finiteOrNull(double d) {
        return Double.isFinite(d) ? d : null;
    }

    static boolean sameNetns(Long filter, long netns) {
        return filter == null || Objects.equals(filter, netns);
    }
}
