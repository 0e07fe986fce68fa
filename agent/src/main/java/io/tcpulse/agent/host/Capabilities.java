package io.tcpulse.agent.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The capabilities this process holds (CapEff in /proc/self/status), so that a refused
 * bpf() call can be explained by name ("missing CAP_BPF") instead of a bare EPERM.
 */
public final class Capabilities {
    public static final int CAP_DAC_READ_SEARCH = 2, CAP_SYS_PTRACE = 19, CAP_SYS_ADMIN = 21,
            CAP_PERFMON = 38, CAP_BPF = 39;

    /** What the probe needs: bpf() maps and programs, then attaching tracing programs. */
    public static final List<Integer> PROBE = List.of(CAP_BPF, CAP_PERFMON);

    private final long effective;

    public Capabilities(long effective) { this.effective = effective; }

    /** This process's effective set; all zero when it cannot be read (not Linux). */
    public static Capabilities current() {
        return parseStatus(readStatus());
    }

    static String readStatus() {
        try {
            return Files.readString(Path.of("/proc/self/status"));
        } catch (IOException e) {
            return "";
        }
    }

    public static Capabilities parseStatus(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("CapEff:")) {
                return new Capabilities(Long.parseUnsignedLong(line.substring(7).strip(), 16));
            }
        }
        return new Capabilities(0);
    }

    public boolean has(int cap) {
        return (effective & (1L << cap)) != 0;
    }

    /** bpf() and perf checks accept CAP_SYS_ADMIN in place of CAP_BPF and CAP_PERFMON. */
    public List<String> missingForProbe() {
        List<String> out = new ArrayList<>();
        if (has(CAP_SYS_ADMIN)) return out;
        for (int cap : PROBE) if (!has(cap)) out.add(name(cap));
        return out;
    }

    /** Names of the held capabilities that matter to tcpulse, e.g. "CAP_BPF, CAP_PERFMON"; "none". */
    public String describeRelevant() {
        List<String> held = new ArrayList<>();
        for (int cap : List.of(CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH)) {
            if (has(cap)) held.add(name(cap));
        }
        return held.isEmpty() ? "none" : String.join(", ", held);
    }

    /**
     * The sentence that goes after a failed probe open: which capability is missing, or
     * null when the probe's capabilities are all held (the failure has another cause).
     */
    public String explainProbeFailure() {
        List<String> missing = missingForProbe();
        if (missing.isEmpty()) return null;
        return "missing capability " + String.join(" and ", missing) + " (held: " + describeRelevant()
                + "): run as root or grant CAP_BPF and CAP_PERFMON (systemd: AmbientCapabilities=CAP_BPF CAP_PERFMON)";
    }

    public static String name(int cap) {
        return switch (cap) {
            case CAP_DAC_READ_SEARCH -> "CAP_DAC_READ_SEARCH";
            case CAP_SYS_PTRACE -> "CAP_SYS_PTRACE";
            case CAP_SYS_ADMIN -> "CAP_SYS_ADMIN";
            case CAP_PERFMON -> "CAP_PERFMON";
            case CAP_BPF -> "CAP_BPF";
            default -> "capability " + cap;
        };
    }
}
