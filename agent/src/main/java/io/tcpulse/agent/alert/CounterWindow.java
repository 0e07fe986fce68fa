package io.tcpulse.agent.alert;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Increases and rates of monotonic counters over a sliding window, per key. A counter
 * seen for the first time is its own baseline (its past is not "within the window"); a
 * counter that goes down was reset and counts from zero. Series not touched during an
 * evaluation are forgotten at {@link #end()}.
 */
final class CounterWindow {
    private record Point(long t, long v) {}

    private final Map<Object, ArrayDeque<Point>> series = new HashMap<>();
    private final Set<Object> touched = new HashSet<>();

    void begin() {
        touched.clear();
    }

    void end() {
        series.keySet().retainAll(touched);
    }

    /** Records value at now; returns the increase within (now - window, now]. */
    long increase(Object key, long now, long value, long windowMillis) {
        ArrayDeque<Point> points = record(key, now, value, windowMillis);
        long inc = 0;
        Point prev = null;
        for (Point p : points) {
            if (prev != null) inc += p.v >= prev.v ? p.v - prev.v : p.v;
            prev = p;
        }
        return inc;
    }

    /** Per second over the window, or NaN until two samples exist. */
    double rate(Object key, long now, long value, long windowMillis) {
        long inc = increase(key, now, value, windowMillis);
        ArrayDeque<Point> points = series.get(key);
        if (points.size() < 2) return Double.NaN;
        long span = points.getLast().t - points.getFirst().t;
        return span <= 0 ? Double.NaN : inc * 1000.0 / span;
    }

    private ArrayDeque<Point> record(Object key, long now, long value, long windowMillis) {
        touched.add(key);
        ArrayDeque<Point> points = series.computeIfAbsent(key, k -> new ArrayDeque<>());
        if (!points.isEmpty() && points.getLast().t == now) points.removeLast();
        points.addLast(new Point(now, value));
        // keep one point at or before the window's start: the baseline
        while (points.size() > 1) {
            Point first = points.removeFirst();
            if (points.getFirst().t > now - windowMillis) {
                points.addFirst(first);
                break;
            }
        }
        return points;
    }
}
