package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.ProbeError;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.model.ProbeOutage;

import java.util.List;

/**
 * The agent's view of itself.
 * mode: "bpf" (probe attached) or "procfs" (degraded: states from /proc/net/tcp{,6}).
 */
public record Health(
        boolean probeAvailable,
        String cause,            // why the agent is degraded (probe unavailable, collection failing); null when it is not
        String mode,
        long seen,               // events the kernel programs saw
        long consumed,           // events the agent decoded
        long lost,               // ring full
        long sampledOut,
        long mapFull,
        long decodeErrors,       // short records, unknown kinds/states
        int samplingRatio,       // current ratio (1 = every event)
        long lastWalkMillis,     // wall time of the last reconciliation walk
        long lastWalkMicros,     // its duration
        long walkedSockets,
        long rememberedSockets,  // sockets the kernel side keeps an entry for (owner, times)
        long startedMillis,
        List<ProbeFeature> features, // empty without a probe
        List<ProbeError> errors,     // failures of the probe loop's steps, by step and cause
        ProbeOutage outage,          // collection failing now, or null
        Holders holders,             // the holders walks behind owners
        java.util.Map<String, Long> mapFullByMap, // mapFull split by the map that refused (issue 11)
        Programs programs,                         // the probe's own cost, and state changes it lost
        long skippedWalks,                         // walks skipped: nothing happened since the last one
        Drift drift,                               // what reconciliation walks found counts had drifted by
        long listenerWalks,                        // listeners-only walks: only accept queues could move
        Wakeups wakeups) {                         // what woke the event consumer

    /**
     * The kernel's wake-ups of the event consumer: backlog, a ring past its wake-up mark;
     * firstEvent, the first event after the consumer found the rings empty and went to sleep.
     */
    public record Wakeups(long backlog, long firstEvent) {
        public static final Wakeups NONE = new Wakeups(0, 0);
    }

    /**
     * Reconciliation: a walk checks the counts kept from transition counters since the
     * walk before against the sockets it finds, in the states every change of which is a
     * counted transition (not TIME_WAIT, FIN_WAIT2 or NEW_SYN_RECV, which change silently),
     * in each namespace whose counters moved during neither walk. checkedWalks: namespace
     * walks checked; sockets: the sum of the differences found (0 unless a change was
     * missed); byState: that sum by state; unsettledWalks: namespace walks during which
     * its counters moved (a socket changing then may be counted in its old state until the
     * next walk); intervalMillis: the longest a quiet host goes between walks now.
     */
    public record Drift(long checkedWalks, long sockets, java.util.Map<String, Long> byState, long unsettledWalks,
                        long intervalMillis) {
        public static final Drift NONE = new Drift(0, 0, java.util.Map.of(), 0, 0);

        public Drift {
            byState = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(byState));
        }
    }

    /**
     * The attached programs as the kernel counts them. runStats: "on" (run time counted),
     * "off" (kernel.bpf_stats_enabled is 0 and probe.runStats is not set) or why asking for it
     * failed. stateChangesLost: state changes neither twin program ran for (the first
     * program's recursion misses the twin did not handle): exact, 0 unless the kernel refused both.
     */
    public record Programs(String runStats, List<io.tcpulse.agent.model.ProgramCost> list, long stateChangesLost) {
        public static final Programs NONE = new Programs("off", List.of(), 0);

        public Programs {
            list = List.copyOf(list);
        }
    }

    /**
     * Where owners come from: source "kernel" (iter/task_file), "proc" (/proc/PID/fd) or
     * "none"; walks taken so far, the last one's duration and when it was taken (0: never).
     */
    public record Holders(String source, long walks, long lastMicros, long lastMillis) {
        public static final Holders NONE = new Holders("none", 0, 0, 0);
    }

    public Health {
        features = List.copyOf(features);
        errors = List.copyOf(errors);
        if (holders == null) holders = Holders.NONE;
        if (programs == null) programs = Programs.NONE;
        if (drift == null) drift = Drift.NONE;
        if (wakeups == null) wakeups = Wakeups.NONE;
        mapFullByMap = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(mapFullByMap));
    }

    /** Without the split of mapFull by map, nor holders. */
    public Health(boolean probeAvailable, String cause, String mode, long seen, long consumed, long lost,
                  long sampledOut, long mapFull, long decodeErrors, int samplingRatio, long lastWalkMillis,
                  long lastWalkMicros, long walkedSockets, long rememberedSockets, long startedMillis,
                  List<ProbeFeature> features, List<ProbeError> errors, ProbeOutage outage) {
        this(probeAvailable, cause, mode, seen, consumed, lost, sampledOut, mapFull, decodeErrors, samplingRatio,
                lastWalkMillis, lastWalkMicros, walkedSockets, rememberedSockets, startedMillis, features, errors, outage,
                Holders.NONE, java.util.Map.of(), Programs.NONE, 0, Drift.NONE, 0, Wakeups.NONE);
    }

    /** Without errors or an outage. */
    public Health(boolean probeAvailable, String cause, String mode, long seen, long consumed, long lost,
                  long sampledOut, long mapFull, long decodeErrors, int samplingRatio, long lastWalkMillis,
                  long lastWalkMicros, long walkedSockets, long rememberedSockets, long startedMillis,
                  List<ProbeFeature> features) {
        this(probeAvailable, cause, mode, seen, consumed, lost, sampledOut, mapFull, decodeErrors, samplingRatio,
                lastWalkMillis, lastWalkMicros, walkedSockets, rememberedSockets, startedMillis, features, List.of(), null);
    }

    public Health withPrograms(Programs p) {
        return new Health(probeAvailable, cause, mode, seen, consumed, lost, sampledOut, mapFull, decodeErrors, samplingRatio,
                lastWalkMillis, lastWalkMicros, walkedSockets, rememberedSockets, startedMillis, features, errors, outage,
                holders, mapFullByMap, p, skippedWalks, drift, listenerWalks, wakeups);
    }

    public Health withWalks(long skipped, Drift d) {
        return new Health(probeAvailable, cause, mode, seen, consumed, lost, sampledOut, mapFull, decodeErrors, samplingRatio,
                lastWalkMillis, lastWalkMicros, walkedSockets, rememberedSockets, startedMillis, features, errors, outage,
                holders, mapFullByMap, programs, skipped, d, listenerWalks, wakeups);
    }

    /** "ok" while the probe is attached and every step of collection succeeds; "degraded" otherwise. */
    public String status() {
        return probeAvailable && outage == null ? "ok" : "degraded";
    }
}
