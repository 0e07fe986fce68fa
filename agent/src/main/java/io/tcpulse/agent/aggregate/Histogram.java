package io.tcpulse.agent.aggregate;

import java.util.Arrays;

/**
 * Latency histogram with power-of-two microsecond buckets (1 us .. 2^35 us, about 9.5 h).
 * Mutable instances belong to the single aggregating thread; {@link #copy()} gives the
 * immutable view readers get in a snapshot.
 */
public final class Histogram {
    public static final int BUCKETS = 36;
    /** Upper bounds in seconds, for Prometheus' le label; the last bucket is +Inf. */
    public static final double[] UPPER_SECONDS = new double[BUCKETS];
    static {
        for (int i = 0; i < BUCKETS; i++) UPPER_SECONDS[i] = (1L << i) / 1e6;
    }

    private final long[] counts = new long[BUCKETS + 1]; // last slot: above the top bound
    private long count;
    private double sumSeconds;

    public void record(long nanos, long weight) {
        if (nanos < 0 || weight <= 0) return;
        long micros = Math.max(1, (nanos + 999) / 1000);
        int bucket = 64 - Long.numberOfLeadingZeros(micros - 1); // ceil(log2(micros))
        counts[Math.min(bucket, BUCKETS)] += weight;
        count += weight;
        sumSeconds += nanos / 1e9 * weight;
    }

    public long count() { return count; }

    public double sumSeconds() { return sumSeconds; }

    /** Count in bucket i (i == BUCKETS: above the last bound). */
    public long bucket(int i) { return counts[i]; }

    /** Percentile (0..100) in seconds, interpolated inside the bucket; NaN when empty. */
    public double percentile(double p) {
        if (count == 0) return Double.NaN;
        double rank = Math.max(1, Math.ceil(p / 100.0 * count));
        long seen = 0;
        for (int i = 0; i <= BUCKETS; i++) {
            if (counts[i] == 0) continue;
            if (seen + counts[i] >= rank) {
                double lo = i == 0 ? 0 : UPPER_SECONDS[i - 1];
                double hi = i < BUCKETS ? UPPER_SECONDS[i] : UPPER_SECONDS[BUCKETS - 1] * 2;
                return lo + (hi - lo) * ((rank - seen) / counts[i]);
            }
            seen += counts[i];
        }
        return UPPER_SECONDS[BUCKETS - 1];
    }

    public Histogram copy() {
        Histogram h = new Histogram();
        System.arraycopy(counts, 0, h.counts, 0, counts.length);
        h.count = count;
        h.sumSeconds = sumSeconds;
        return h;
    }

    public void add(Histogram other) {
        for (int i = 0; i < counts.length; i++) counts[i] += other.counts[i];
        count += other.count;
        sumSeconds += other.sumSeconds;
    }

    @Override
    public String toString() {
        return "Histogram{count=" + count + ", counts=" + Arrays.toString(counts) + "}";
    }
}
