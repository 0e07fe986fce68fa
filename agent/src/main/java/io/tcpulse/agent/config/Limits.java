package io.tcpulse.agent.config;

import io.tcpulse.agent.config.JsonTree.Node;
import io.tcpulse.agent.config.JsonTree.Obj;
import io.tcpulse.agent.config.JsonTree.Problems;

import java.util.ArrayList;
import java.util.List;

/**
 * Bounds on what users of the host control (issue 11): how many per-listener series a
 * scrape carries, how many HTTP connections one client address and all event streams
 * may hold. Config file section "limits"; every value checked here.
 *
 * @param metricsListeners per-listener series kept in /metrics (the most active; the
 *                         rest summed into addr="other",port="0" per namespace)
 * @param apiListLimit     default page size of the list endpoints (?limit= overrides)
 * @param perClientConnections concurrent HTTP connections from one client address; 0: no cap
 * @param maxStreams       concurrent /api/v1/stream clients
 * @param metricsNamespaces namespaces with series of their own in /metrics (the agent's and the
 *                         most active; the rest summed into netns="other")
 */
public record Limits(int metricsListeners, int apiListLimit, int perClientConnections, int maxStreams, int metricsNamespaces) {
    public static final int DEFAULT_METRICS_LISTENERS = 500;
    public static final int DEFAULT_API_LIST_LIMIT = 500;
    public static final int DEFAULT_PER_CLIENT_CONNECTIONS = 64;
    public static final int DEFAULT_MAX_STREAMS = 32;
    public static final int DEFAULT_METRICS_NAMESPACES = 100;
    /** Most a page may hold, whatever the default. */
    public static final int MAX_API_LIST_LIMIT = 100_000;

    static final List<String> KEYS = List.of("metricsListeners", "apiListLimit", "perClientConnections", "maxStreams",
            "metricsNamespaces");

    public static Limits defaults() {
        return new Limits(DEFAULT_METRICS_LISTENERS, DEFAULT_API_LIST_LIMIT, DEFAULT_PER_CLIENT_CONNECTIONS, DEFAULT_MAX_STREAMS,
                DEFAULT_METRICS_NAMESPACES);
    }

    /** With the default namespace bound. */
    public Limits(int metricsListeners, int apiListLimit, int perClientConnections, int maxStreams) {
        this(metricsListeners, apiListLimit, perClientConnections, maxStreams, DEFAULT_METRICS_NAMESPACES);
    }

    public Limits {
        if (metricsListeners < 0) throw new IllegalArgumentException("limits.metricsListeners must be 0 or more, got " + metricsListeners);
        if (apiListLimit < 1 || apiListLimit > MAX_API_LIST_LIMIT) {
            throw new IllegalArgumentException("limits.apiListLimit must be 1.." + MAX_API_LIST_LIMIT + ", got " + apiListLimit);
        }
        if (perClientConnections < 0) {
            throw new IllegalArgumentException("limits.perClientConnections must be 0 (no cap) or more, got " + perClientConnections);
        }
        if (maxStreams < 0) throw new IllegalArgumentException("limits.maxStreams must be 0 or more, got " + maxStreams);
        if (metricsNamespaces < 1) {
            throw new IllegalArgumentException("limits.metricsNamespaces must be 1 or more, got " + metricsNamespaces);
        }
    }

    /** This overlaid with a "limits" section; problems noted with their lines. */
    Limits overlay(Obj section, Problems p) {
        int[] v = {metricsListeners, apiListLimit, perClientConnections, maxStreams, metricsNamespaces};
        long[][] bounds = {{0, 1_000_000}, {1, MAX_API_LIST_LIMIT}, {0, 1_000_000}, {0, 100_000}, {1, 1_000_000}};
        for (int i = 0; i < KEYS.size(); i++) {
            Node n = section.get(KEYS.get(i));
            if (n == null) continue;
            Long x = JsonTree.whole(n, bounds[i][0], bounds[i][1], p);
            if (x != null) v[i] = x.intValue();
        }
        return new Limits(v[0], v[1], v[2], v[3], v[4]);
    }

    /** The keys whose values differ (all apply on reload). */
    List<String> changes(Limits next) {
        List<String> out = new ArrayList<>();
        if (metricsListeners != next.metricsListeners) out.add("limits.metricsListeners");
        if (apiListLimit != next.apiListLimit) out.add("limits.apiListLimit");
        if (perClientConnections != next.perClientConnections) out.add("limits.perClientConnections");
        if (maxStreams != next.maxStreams) out.add("limits.maxStreams");
        if (metricsNamespaces != next.metricsNamespaces) out.add("limits.metricsNamespaces");
        return out;
    }
}
