package io.tcpulse.agent.host;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the agent itself costs now: CPU time, resident memory, heap, descriptors, as the
 * JVM and /proc/self report them. -1 where this JVM or kernel does not say.
 */
public record SelfUsage(double cpuSeconds, long residentBytes, long heapUsedBytes, long heapCommittedBytes,
                        long heapMaxBytes, long nonHeapUsedBytes, long openFds, long maxFds, double startSeconds) {

    public static SelfUsage now() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        double cpu = os instanceof com.sun.management.OperatingSystemMXBean o ? o.getProcessCpuTime() / 1e9 : -1;
        long open = -1, max = -1;
        if (os instanceof com.sun.management.UnixOperatingSystemMXBean u) {
            try {
                open = u.getOpenFileDescriptorCount();
                max = u.getMaxFileDescriptorCount();
            } catch (InternalError e) {
                // the JDK opens /proc/self/fd to count: out of descriptors, it throws; the count is then unknown
            }
        }
        var mem = ManagementFactory.getMemoryMXBean();
        MemoryUsage heap = mem.getHeapMemoryUsage(), nonHeap = mem.getNonHeapMemoryUsage();
        return new SelfUsage(cpu, readResidentBytes(), heap.getUsed(), heap.getCommitted(), heap.getMax(), nonHeap.getUsed(),
                open, max, ManagementFactory.getRuntimeMXBean().getStartTime() / 1000.0);
    }

    /** VmRSS of /proc/self/status, in bytes. */
    private static long readResidentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (Exception e) {
            // not Linux, or /proc hidden: unknown
        }
        return -1;
    }
}
