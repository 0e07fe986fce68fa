package io.tcpulse.agent.aggregate;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * When to forget a network namespace: state kept per namespace (latency histograms, RST
 * peers) outlives the namespace by a grace period, then goes. Any user can create and
 * delete namespaces by the thousand; what the agent keeps of them must not grow forever.
 * Time is injected.
 */
final class NetnsEviction {
    /** How long a namespace no walk has seen keeps its state (a walk may miss one it cannot enter). */
    static final long DEFAULT_GRACE_MILLIS = 10 * 60_000L;

    private final long graceMillis;
    private final LongSupplier clock;
    private final Map<Long, Long> lastSeen = new HashMap<>();

    NetnsEviction(long graceMillis, LongSupplier clock) {
        if (graceMillis < 0) throw new IllegalArgumentException("grace must be >= 0, got " + graceMillis);
        this.graceMillis = graceMillis;
        this.clock = clock;
    }

    /** A namespace has state: it counts as seen now if it is new to this tracker. */
    void touch(long netns) {
        lastSeen.putIfAbsent(netns, clock.getAsLong());
    }

    /** After a walk: the namespaces it saw are alive; returns those unseen for longer than the grace, forgotten. */
    List<Long> walked(Set<Long> alive) {
        long now = clock.getAsLong();
        for (Long n : alive) lastSeen.put(n, now);
        List<Long> gone = new ArrayList<>();
        lastSeen.entrySet().removeIf(e -> {
            if (now - e.getValue() <= graceMillis) return false;
            gone.add(e.getKey());
            return true;
        });
        return gone;
    }

    int tracked() { return lastSeen.size(); }
}
