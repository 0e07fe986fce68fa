package io.tcpulse.agent.check;

import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.host.Capabilities;
import io.tcpulse.agent.http.HttpSecurity;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.probe.EventDecoder;
import io.tcpulse.agent.probe.Probe;
import io.tcpulse.agent.probe.ProbeException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * `tcpulse check [--config FILE] [agent flags]`: can this host run the agent, and with
 * which limits? One PASS/WARN/FAIL line per fact; exit code 0 unless something FAILs.
 * The probe test really loads and attaches the programs, then walks the sockets once.
 */
public final class HostCheck {
    public enum Level { PASS, WARN, FAIL }

    public record Line(Level level, String topic, String text) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-4s  %-13s %s", level, topic, text);
        }
    }

    /**
     * The oldest kernel the core was proven on (scripts/kernel-matrix.sh). Older ones are
     * not refused: the probe's trial load below decides, not the number.
     */
    static final int[] OLDEST_TESTED = {5, 10};

    /** Tracepoints the probe attaches with tp_btf: the first is the core, the others one feature each. */
    static final List<String[]> TRACEPOINTS = List.of(
            new String[] {"inet_sock_set_state", "every TCP state change"},
            new String[] {"tcp_retransmit_synack", "handshakes the client did not finish (SYN flood)"},
            new String[] {"tcp_send_reset", "RSTs sent"},
            new String[] {"tcp_receive_reset", "RSTs received"});
    /** Optional: per-listener overflow attribution; without it the walk's sk_drops stands in. */
    static final String OVERFLOW_TRACEPOINT = "kfree_skb";
    static final String OVERFLOW_REASON = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW";

    /** What the probe test found: a one-line summary and every feature, on or off. */
    public record ProbeReport(String summary, List<ProbeFeature> features) {}

    /** The probe test: opens, walks once, closes. Replaceable in tests. */
    public interface ProbeTest {
        ProbeReport run(Config config) throws ProbeException;
    }

    private final Path osRelease;
    private final Path btfFile;
    private final Supplier<Capabilities> capabilities;
    private final ProbeTest probeTest;
    private final List<Line> lines = new ArrayList<>();

    public HostCheck(Path osRelease, Path btfFile, Supplier<Capabilities> capabilities, ProbeTest probeTest) {
        this.osRelease = osRelease;
        this.btfFile = btfFile;
        this.capabilities = capabilities;
        this.probeTest = probeTest;
    }

    /** Checks this host, prints the report, returns the exit code. */
    public static int run(String[] args, PrintStream out) {
        HostCheck check = new HostCheck(Path.of("/proc/sys/kernel/osrelease"), Path.of("/sys/kernel/btf/vmlinux"),
                Capabilities::current, HostCheck::openProbe);
        return check.report(args, out);
    }

    public int report(String[] args, PrintStream out) {
        out.println("tcpulse check: can this host run the agent?");
        List<Line> result = check(args);
        result.forEach(out::println);
        long fails = result.stream().filter(l -> l.level() == Level.FAIL).count();
        long warns = result.stream().filter(l -> l.level() == Level.WARN).count();
        out.println(fails == 0
                ? "result: ready" + (warns == 0 ? "" : " (" + warns + " warning" + (warns == 1 ? "" : "s") + ")")
                : "result: NOT ready: " + fails + " failure" + (fails == 1 ? "" : "s"));
        return fails == 0 ? 0 : 1;
    }

    public List<Line> check(String[] args) {
        lines.clear();
        kernel();
        Btf btf = btf();
        if (btf != null) tracepoints(btf);
        capabilities();
        probe(args);
        config(args);
        return List.copyOf(lines);
    }

    private void kernel() {
        String release;
        try {
            release = Files.readString(osRelease).strip();
        } catch (IOException e) {
            add(Level.FAIL, "kernel", "cannot read " + osRelease + ": " + e.getMessage() + " (not Linux?)");
            return;
        }
        int[] v = version(release);
        String oldest = OLDEST_TESTED[0] + "." + OLDEST_TESTED[1];
        boolean tested = v[0] > OLDEST_TESTED[0] || (v[0] == OLDEST_TESTED[0] && v[1] >= OLDEST_TESTED[1]);
        add(tested ? Level.PASS : Level.WARN, "kernel", release + (tested ? " (the core is tested from " + oldest + " on)"
                : ": older than the oldest kernel tested (" + oldest + "); the probe's load below decides"));
    }

    /** "6.18.44-fc" -> {6, 18}; unparsable parts are 0. */
    static int[] version(String release) {
        String[] parts = release.split("[.\\-+]");
        int[] v = new int[2];
        for (int i = 0; i < 2 && i < parts.length; i++) {
            try {
                v[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                v[i] = 0;
            }
        }
        return v;
    }

    private Btf btf() {
        if (!Files.isReadable(btfFile)) {
            add(Level.FAIL, "btf", btfFile + " is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y for tp_btf and CO-RE");
            return null;
        }
        try {
            Btf btf = Btf.read(btfFile);
            add(Level.PASS, "btf", btfFile + " (" + btf.typedefs.size() + " typedefs)");
            return btf;
        } catch (IOException e) {
            add(Level.FAIL, "btf", btfFile + " cannot be parsed: " + e.getMessage());
            return null;
        }
    }

    private void tracepoints(Btf btf) {
        for (String[] tp : TRACEPOINTS) {
            boolean present = btf.hasTracepoint(tp[0]);
            boolean core = tp == TRACEPOINTS.get(0);
            add(present ? Level.PASS : core ? Level.FAIL : Level.WARN, "tracepoint", tp[0] + " (" + tp[1] + ")"
                    + (present ? "" : ": missing from BTF (btf_trace_" + tp[0] + "), "
                            + (core ? "the probe cannot load" : "that feature is off")));
        }
        boolean overflow = btf.hasTracepoint(OVERFLOW_TRACEPOINT) && btf.enumValues.contains(OVERFLOW_REASON);
        add(overflow ? Level.PASS : Level.WARN, "tracepoint", OVERFLOW_TRACEPOINT + " with " + OVERFLOW_REASON
                + (overflow ? " (accept-queue overflows per listener, as they happen)"
                        : ": not in this kernel; listener overflows come from sk_drops at each walk"));
    }

    private void capabilities() {
        Capabilities caps = capabilities.get();
        List<String> missing = caps.missingForProbe();
        String held = caps.describeRelevant();
        if (missing.isEmpty()) {
            add(Level.PASS, "capabilities", "probe needs CAP_BPF, CAP_PERFMON; held: " + held);
        } else {
            add(Level.FAIL, "capabilities", "missing " + String.join(" and ", missing) + " for the probe (held: " + held
                    + "); run as root or with AmbientCapabilities=CAP_BPF CAP_PERFMON");
        }
        if (!caps.has(Capabilities.CAP_SYS_ADMIN)) {
            add(Level.WARN, "capabilities", "no CAP_SYS_ADMIN: sockets of other network namespaces are counted from"
                    + " events only (sockets that predate the agent there are not seen)");
        }
        if (!caps.has(Capabilities.CAP_SYS_PTRACE) && !caps.has(Capabilities.CAP_DAC_READ_SEARCH)) {
            add(Level.WARN, "capabilities", "no CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH: /proc/PID/fd of other users"
                    + " is unreadable; socket holders come from the kernel's walk (feature socketHolders) where it is on,"
                    + " else only this user's processes are named");
        }
    }

    private void probe(String[] args) {
        ProbeReport report;
        Config config;
        try {
            config = Config.parse(args);
        } catch (Config.ConfigException e) {
            config = Config.defaults(); // the config line below says what is wrong
        }
        try {
            report = probeTest.run(config);
        } catch (ProbeException | RuntimeException e) {
            add(Level.FAIL, "probe", "cannot load: " + e.getMessage());
            return;
        }
        add(Level.PASS, "probe", report.summary());
        for (ProbeFeature f : report.features()) {
            add(f.on() ? Level.PASS : Level.WARN, "feature", f.name() + (f.on() ? " on: " + f.what() : " off: " + f.reason()));
        }
    }

    private void config(String[] args) {
        Config config;
        try {
            config = Config.parse(args);
        } catch (Config.ConfigException e) {
            // a config file can have several problems, each "line N: ..." (the message's first line is only "config file F:")
            if (e.problems().size() > 1) e.problems().forEach(p -> add(Level.FAIL, "config", p));
            else add(Level.FAIL, "config", e.getMessage().lines().findFirst().orElse(""));
            return;
        }
        add(Level.PASS, "config", "valid" + configSource(args) + ": listen " + config.host() + ":" + config.port());
        try {
            HttpSecurity security = HttpSecurity.of(config);
            add(Level.PASS, "http", security.scheme()
                    + (security.tokenRequired() ? ", bearer token required" : ", no token (loopback only)"));
        } catch (Config.ConfigException e) {
            add(Level.FAIL, "http", e.getMessage());
        }
    }

    private static String configSource(String[] args) {
        String file = null;
        try {
            file = io.tcpulse.agent.config.RunOptions.parse(args).configFile();
        } catch (Config.ConfigException e) {
            // reported by the config line
        }
        return file != null ? " (" + file + ")" : " (defaults, no --config)";
    }

    private void add(Level level, String topic, String text) {
        lines.add(new Line(level, topic, text));
    }

    /** The real test: load and attach every program the kernel takes, walk this namespace once, close. */
    static ProbeReport openProbe(Config config) throws ProbeException {
        try (Probe probe = Probe.open(new Probe.Options(0, 0, 0, false, java.util.Set.copyOf(config.disabledFeatures())))) {
            int sockets = probe.walk(null).limit() / EventDecoder.SOCK_SIZE;
            io.tcpulse.agent.probe.HolderDecoder.Walk holders = probe.holders();
            List<ProbeFeature> features = probe.features();
            long off = features.stream().filter(f -> !f.on()).count();
            return new ProbeReport("loaded and attached, " + probe.ringCount() + " per-CPU rings; iter/tcp walk saw "
                    + sockets + " sockets; "
                    + (holders == null ? "" : "holders walk saw " + holders.byInode().size() + " TCP sockets held by processes; ")
                    + (features.size() - off) + " of " + features.size() + " features on", features);
        }
    }
}
