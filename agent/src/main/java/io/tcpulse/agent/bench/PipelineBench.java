package io.tcpulse.agent.bench;

import io.tcpulse.agent.aggregate.Aggregator;
import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.probe.Probe;
import io.tcpulse.agent.probe.ProbeLoop;

import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The pipeline alone, faster than real traffic allows: the kernel generates synthetic
 * events (BPF_PROG_TEST_RUN of a raw_tp program that goes through the same sampling,
 * counters and per-CPU rings as the real probe) at a paced rate, and the agent's probe
 * thread drains, decodes and aggregates them. Prints one JSON line.
 *
 * usage: tcpulse bench-pipeline [--events N] [--rate EVENTS_PER_SEC] [--ring-bytes B]
 */
public final class PipelineBench {
    private PipelineBench() {}

    /** Runs the benchmark and prints its JSON line (tcpulse bench-pipeline parses the options). */
    public static void run(long events, long rate, int ringBytes) throws Exception {
        Aggregator aggregator = new Aggregator(10_000, System::currentTimeMillis);
        try (Probe probe = Probe.open(new Probe.Options(ringBytes, 0, 0, true))) {
            aggregator.setProbe(true, null);
            ProbeLoop loop = new ProbeLoop(probe, aggregator, new ProbeLoop.Settings(1, 65536, 3_600_000, 200, 0));
            loop.start();
            // warm the JIT up on a million events before measuring
            for (int i = 0; i < 100; i++) {
                probe.benchGenerate(10_000);
                Thread.sleep(2);
            }
            long warm = probe.stats()[Probe.STAT_SEEN];
            long deadlineWarm = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (aggregator.current().health().consumed() < warm - lostSoFar(probe) && System.nanoTime() < deadlineWarm) {
                Thread.sleep(10);
                aggregator.publish();
            }
            aggregator.publish();
            long consumedBefore = aggregator.current().health().consumed();
            long lostBefore = lostSoFar(probe);
            long before = probe.stats()[Probe.STAT_SEEN];
            // pace in 1 ms slices: the generator runs on this thread's CPU
            int chunk = (int) Math.max(1, rate / 1000);
            long started = System.nanoTime();
            long generated = 0;
            while (generated < events) {
                int n = (int) Math.min(chunk, events - generated);
                probe.benchGenerate(n);
                generated += n;
                long due = started + (long) (generated * 1e9 / rate);
                long wait = due - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
            }
            double genSeconds = (System.nanoTime() - started) / 1e9;
            // let the consumer finish draining
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            Health h;
            do {
                Thread.sleep(50);
                aggregator.publish();
                h = aggregator.current().health();
            } while (h.consumed() - consumedBefore < generated - (lostSoFar(probe) - lostBefore)
                    && System.nanoTime() < deadline);
            double drainSeconds = (System.nanoTime() - started) / 1e9;
            long[] stats = probe.stats();
            loop.close();
            aggregator.publish();
            h = aggregator.current().health();
            System.out.println(String.format(Locale.ROOT,
                    "{\"mode\":\"pipeline\",\"generated\":%d,\"targetRate\":%d,\"generatorSeconds\":%.3f,"
                            + "\"seconds\":%.3f,\"consumed\":%d,\"lost\":%d,\"eventsPerSec\":%.0f,\"kernelSeen\":%d}",
                    generated, rate, genSeconds, drainSeconds, h.consumed() - consumedBefore,
                    stats[Probe.STAT_LOST] - lostBefore, (h.consumed() - consumedBefore) / drainSeconds,
                    stats[Probe.STAT_SEEN] - before));
        }
    }

    private static long lostSoFar(Probe probe) {
        try {
            return probe.stats()[Probe.STAT_LOST];
        } catch (Exception e) {
            return 0;
        }
    }
}
