package io.tcpulse.agent.kernel;

import io.tcpulse.agent.host.NetnsInfoReader;
import io.tcpulse.agent.testing.Wait;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace of the test's own (ip netns), loopback up; its processes are
 * stopped and it is removed on close, with its peers. Shared by the kernel and dashboard
 * tests; a {@link KernelTest} gets one as a parameter and JUnit closes it.
 */
public final class Netns implements AutoCloseable {
    final String name;
    private final List<Process> processes = new ArrayList<>();
    private final List<Netns> peers = new ArrayList<>();
    private boolean closed;

    private Netns(String name) { this.name = name; }

    public static Netns create() throws IOException, InterruptedException {
        Netns ns = new Netns("tcpulse-t-" + UUID.randomUUID().toString().substring(0, 8));
        run("ip", "netns", "add", ns.name);
        try {
            run("ip", "-n", ns.name, "link", "set", "lo", "up");
        } catch (IOException | InterruptedException | RuntimeException e) {
            ns.close(); // made but not ready: never left behind
            throw e;
        }
        return ns;
    }

    /** Its path, /run/netns/NAME (for setns, SO_NETNS_COOKIE). */
    public String path() {
        return "/run/netns/" + name;
    }

    /** Namespace inode, as stat -L -c %i /proc/PID/ns/net prints it. */
    public long inode() {
        try {
            return ((Number) Files.getAttribute(Path.of("/run/netns", name), "unix:ino")).longValue();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** exec() for ground-truth readers that tests call inside await() lambdas. */
    private String read(String... cmd) {
        try {
            return exec(cmd);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs a command inside the namespace to completion; returns its output, fails on a non-zero exit. */
    public String exec(String... cmd) throws IOException, InterruptedException {
        return run(true, inside(cmd));
    }

    /** exec() for commands expected to fail sometimes (clients that time out on purpose). */
    public String execMayFail(String... cmd) throws IOException, InterruptedException {
        return run(false, inside(cmd));
    }

    private String[] inside(String... cmd) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(List.of(cmd));
        return full.toArray(String[]::new);
    }

    /** Starts a command inside the namespace in the background; killed on close. */
    public Process spawn(String... cmd) throws IOException {
        Process p = new ProcessBuilder(inside(cmd)).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    /** Starts tcpulse-storm serve and waits until it listens; returns the process. */
    public Process serve(String... args) throws IOException, InterruptedException {
        return serveWith(KernelTestSupport.stormTool(), args);
    }

    /** serve() with a copy of the tool under another name (the process name is what is tested). */
    public Process serveWith(String tool, String... args) throws IOException, InterruptedException {
        return serveCommand(List.of(tool, "serve"), args);
    }

    /** serve() pinned to one CPU (taskset): its connections' transitions happen there. */
    public Process serveOnCpu(int cpu, String... args) throws IOException, InterruptedException {
        return serveCommand(List.of("taskset", "-c", Integer.toString(cpu), KernelTestSupport.stormTool(), "serve"), args);
    }

    private Process serveCommand(List<String> command, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of(args));
        Process p = spawn(cmd.toArray(String[]::new));
        var reader = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = reader.readLine();
        if (line == null || !line.startsWith("ready")) {
            throw new IOException("serve did not start: " + line);
        }
        return p;
    }

    /**
     * ss -tan inside the namespace, with ss's own filter words if any ("dst", "10.0.0.1:80";
     * "state", "connected", "sport", "= :80"): count per state, named like TcpState (ESTAB -> ESTABLISHED).
     */
    public Map<String, Long> ssCounts(String... filter) {
        Map<String, Long> out = new TreeMap<>();
        List<String> cmd = new ArrayList<>(List.of("ss", "-tanH"));
        cmd.addAll(List.of(filter));
        String[] lines = read(cmd.toArray(String[]::new)).split("\n");
        for (String l : lines) {
            if (l.isBlank()) continue;
            String st = l.trim().split("\\s+")[0];
            String name = switch (st) {
                case "ESTAB" -> "ESTABLISHED";
                case "UNCONN" -> null;
                default -> st.replace('-', '_').replace("FIN_WAIT_", "FIN_WAIT");
            };
            if (name != null) out.merge(name, 1L, Long::sum);
        }
        return out;
    }

    /**
     * Full sockets ss shows: timewait mini-sockets left out, TIME_WAIT and the FIN_WAIT2
     * substate alike (ss names both by state; only their timer tells them apart).
     */
    public long fullSockets() {
        return read("ss", "-tanoH").lines().filter(l -> !l.isBlank() && !l.contains("timer:(timewait")).count();
    }

    /**
     * The ground truth once traffic stops: ss when it shows exactly these states and two
     * reads 300 ms apart agree. Tests take counts from here, not from the number of
     * connections made: a connect may take over the port of a TIME_WAIT socket older
     * than a second (tcp_tw_reuse is on for loopback by default; TcpExtTWRecycled).
     */
    public Map<String, Long> settledSs(Duration timeout, String... states) throws InterruptedException {
        Set<String> want = Set.of(states);
        return Wait.settled(timeout, Duration.ofMillis(300), this::ssCounts, now -> now.keySet().equals(want),
                last -> "ss in the namespace never settled on " + want + ": " + last);
    }

    /**
     * A veth into a peer namespace with 10.98.0.1/24 here and 10.99.0.0/16 routed to it:
     * SYN-ACKs to spoofed 10.99.x.x sources leave and are never answered.
     */
    public Netns blackholePeer() throws IOException, InterruptedException {
        Netns peer = new Netns(name + "-p");
        run("ip", "netns", "add", peer.name);
        peers.add(peer); // removed with this one
        String v0 = "v" + name.substring(name.length() - 8), v1 = v0 + "p";
        run("ip", "-n", name, "link", "add", v0, "type", "veth", "peer", "name", v1, "netns", peer.name);
        run("ip", "-n", name, "addr", "add", "10.98.0.1/24", "dev", v0);
        run("ip", "-n", name, "link", "set", v0, "up");
        run("ip", "-n", peer.name, "link", "set", v1, "up");
        run("ip", "-n", name, "route", "add", "10.99.0.0/16", "dev", v0);
        return peer;
    }

    public void sysctl(String key, String value) throws IOException, InterruptedException {
        exec("sysctl", "-q", "-w", key + "=" + value);
    }

    /** Tcp counters of the namespace (/proc/net/snmp), e.g. OutRsts. */
    public Map<String, Long> snmpTcp() {
        return new TreeMap<>(NetnsInfoReader.counters(read("cat", "/proc/net/snmp"), "Tcp:"));
    }

    /** TcpExt counters of the namespace (/proc/net/netstat). */
    public Map<String, Long> tcpExt() {
        return new TreeMap<>(NetnsInfoReader.tcpExt(read("cat", "/proc/net/netstat")));
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        return run(true, cmd);
    }

    private static String run(boolean mustSucceed, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", cmd));
        }
        if (mustSucceed && p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out);
        return out;
    }

    /**
     * Stops its processes and removes it and its peers; each step is tried even when an
     * earlier one failed. A second close does nothing.
     */
    @Override
    public void close() throws IOException, InterruptedException {
        if (closed) return;
        closed = true;
        try {
            for (Process p : processes) {
                p.destroy();
                if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } finally {
            try {
                for (Netns peer : peers) peer.close();
            } finally {
                run("ip", "netns", "del", name);
            }
        }
    }
}
