package io.tcpulse.agent.cli;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.bench.PipelineBench;
import io.tcpulse.agent.check.HostCheck;
import io.tcpulse.agent.config.RunOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * tcpulse's one command line (java -jar tcpulse.jar, /usr/bin/tcpulse): the subcommands
 * run (the default), check, bench-pipeline and version, parsed by picocli with generated
 * help. Exit codes: 0 fine, 1 not ready / could not start, 2 configuration or usage error,
 * 75 collection out for too long (systemd restarts the agent).
 */
@Command(name = "tcpulse", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = "Watches the Linux kernel's TCP state machine (eBPF) and names the culprit of accept-queue"
                + " overflows, SYN floods, TIME_WAIT pile-ups, CLOSE_WAIT leaks and RST storms.",
        synopsisSubcommandLabel = "[COMMAND]",
        subcommands = {Cli.Run.class, Cli.Check.class, Cli.BenchPipeline.class, Cli.VersionCommand.class,
                CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {" 0:ok (check: ready)", " 1:could not start (check: not ready)",
                " 2:configuration or usage error (systemd does not restart on it)",
                "75:collection failed for --max-collection-outage (systemd restarts it)"},
        footerHeading = "%nExamples:%n",
        footer = {
                "  tcpulse                        the agent on 127.0.0.1:9470 (= tcpulse run)",
                "  tcpulse -c /etc/tcpulse/tcpulse.yml    with a config file (YAML or JSON)",
                "  tcpulse --listen=0.0.0.0:9470 --token-file /etc/tcpulse/token \\",
                "          --alertmanager http://am-1:9093 --alertmanager http://am-2:9093",
                "  tcpulse check -c /etc/tcpulse/tcpulse.yml   can it run here? config valid?",
                "  tcpulse help run               every option of the agent",
                "",
                "Documentation: /usr/share/doc/tcpulse/ (README.md, operations.md, alerts.md)."})
public final class Cli {
    public static final int EXIT_CONFIG = 2;

    /** Subcommand names; anything else in first place is an option of the default, run. */
    static final List<String> COMMANDS = List.of("run", "check", "bench-pipeline", "version", "help");

    private Cli() {}

    /** The command line as the user typed it, run inserted when no subcommand is named. */
    public static String[] withDefaultCommand(String[] args) {
        if (args.length > 0 && (COMMANDS.contains(args[0]) || List.of("-h", "--help", "-V", "--version").contains(args[0]))) {
            return args;
        }
        List<String> out = new ArrayList<>();
        out.add("run");
        out.addAll(Arrays.asList(args));
        return out.toArray(String[]::new);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Cli());
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExpandAtFiles(false); // an argument starting with @ is a value, never a file of arguments
        cl.setParameterExceptionHandler((ex, args) -> { // usage errors exit 2, as configuration errors do
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("tcpulse: " + ex.getMessage());
            err.println("(`" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help` lists the options)");
            return EXIT_CONFIG;
        });
        return cl;
    }

    /** Parses and runs; returns the exit code, or -1 when the agent was started and runs on. */
    public static int execute(String[] args) {
        CommandLine cl = commandLine();
        int code = cl.execute(withDefaultCommand(args));
        Run run = cl.getSubcommands().get("run").getCommand();
        return run.started && code == 0 ? -1 : code;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"tcpulse " + version()};
        }
    }

    /** The jar's Implementation-Version, "dev" when run from classes. */
    public static String version() {
        String v = Cli.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Run the agent: the eBPF probe, the HTTP API and dashboard, /metrics, alerts. The default"
                    + " command. Options override the config file's settings.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {" 1:could not start (port taken, state directory unusable)",
                    " 2:configuration or usage error (systemd does not restart on it)",
                    "75:collection failed for --max-collection-outage (systemd restarts it)"},
            footerHeading = "%nExamples:%n",
            footer = {"  tcpulse run --config /etc/tcpulse/tcpulse.yml",
                    "  tcpulse run --listen=127.0.0.1:9470 --alertmanager http://am-1:9093 \\",
                    "              --alertmanager http://am-2:9093",
                    "  tcpulse run --no-probe --webhook https://hooks.example.com/tcpulse"})
    static final class Run implements Callable<Integer> {
        @Mixin RunOptions options;
        boolean started;

        @Override
        public Integer call() {
            Integer code = Main.startAgent(options.toArgs().toArray(String[]::new));
            started = code == null;
            return code == null ? 0 : code;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Can this host run tcpulse? Checks the kernel (BTF, tracepoints), capabilities, loads and"
                    + " attaches the probe once, and validates the config file and options (every problem, with its"
                    + " line). Takes the options of run.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:ready (warnings allowed)", "1:not ready (a check or the config failed)", "2:usage error"},
            footerHeading = "%nExamples:%n",
            footer = {"  tcpulse check", "  tcpulse check --config /etc/tcpulse/tcpulse.yml"})
    static final class Check implements Callable<Integer> {
        @Mixin RunOptions options;

        @Override
        public Integer call() {
            return HostCheck.run(options.toArgs().toArray(String[]::new), System.out);
        }
    }

    @Command(name = "bench-pipeline", mixinStandardHelpOptions = true,
            description = "Synthetic events generated in the kernel (BPF_PROG_TEST_RUN), drained, decoded and"
                    + " aggregated by the agent's pipeline at a paced rate; prints one JSON line. Needs root.",
            footerHeading = "%nExamples:%n",
            footer = {"  tcpulse bench-pipeline --events 30000000 --rate 5000000"})
    static final class BenchPipeline implements Callable<Integer> {
        @Option(names = "--events", paramLabel = "N", description = "events to generate (default ${DEFAULT-VALUE})")
        long events = 30_000_000L;

        @Option(names = "--rate", paramLabel = "EVENTS_PER_SEC", description = "target rate (default ${DEFAULT-VALUE})")
        long rate = 6_000_000L;

        @Option(names = "--ring-bytes", paramLabel = "B", description = "per-CPU ring size (default ${DEFAULT-VALUE})")
        int ringBytes = 64 << 20;

        @Override
        public Integer call() throws Exception {
            PipelineBench.run(events, rate, ringBytes);
            return 0;
        }
    }

    @Command(name = "version", description = "Print the version.")
    static final class VersionCommand implements Callable<Integer> {
        @Override
        public Integer call() {
            System.out.println("tcpulse " + version());
            return 0;
        }
    }
}
