package io.tcpulse.agent.kernel;

import io.tcpulse.agent.ops.OpsFiles;
import io.tcpulse.agent.testing.Wait;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * systemd/tcpulse.service run by a real systemd: PID 1 of a private PID and mount
 * namespace (so this works where systemd is not the host's init, as on CI), with its
 * own /etc/systemd/system and /var/lib. Only ExecStart changes: the classpath instead
 * of the jar (tests run before `package`). The agent must start as a dynamic user with
 * exactly CAP_BPF and CAP_PERFMON under the unit's seccomp filter and sandbox, attach
 * its probe, survive `systemctl reload`, and stop cleanly.
 */
@KernelTest
class SystemdServiceKernelTest {
    private static final String SYSTEMD = "/lib/systemd/systemd";
    /** CAP_PERFMON (38) and CAP_BPF (39). */
    private static final String CAPS = "000000c000000000";

    @Test
    void theUnitRunsTheAgentUnprivilegedAndSandboxed() throws Exception {
        if (!Files.isExecutable(Path.of(SYSTEMD))) fail(SYSTEMD + " missing: scripts/install-deps.sh installs systemd");
        int port = freePort();
        // not under /tmp, /run or /root: the unit hides those (PrivateTmp=, ProtectHome=) or systemd remounts them
        try (WorldReadableAgent world = WorldReadableAgent.create(Path.of("/var/cache"))) {
            Path dir = world.scratchDir("systemd-");
            Path config = Files.writeString(dir.resolve("tcpulse.json"), "{\"listen\": \"127.0.0.1:" + port + "\"}");
            WorldReadableAgent.setMode(config, "rw-r--r--");
            Path unit = Files.writeString(dir.resolve("tcpulse.service"), testUnit(world, config));
            Path script = Files.writeString(dir.resolve("boot.sh"), """
                    #!/bin/sh
                    # Inside the new namespaces, before systemd starts: everything it may write or clean
                    # is a private tmpfs. (systemd-tmpfiles at boot empties /tmp: never the host's.)
                    set -e
                    mount --make-rprivate /
                    for d in /tmp /var/tmp /var/lib /var/log /run /etc/systemd/system; do mount -t tmpfs tmpfs $d; done
                    cd /etc/systemd/system
                    cp %s tcpulse.service
                    for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \\
                             systemd-tmpfiles-setup-dev-early.service systemd-tmpfiles-clean.timer; do ln -s /dev/null $u; done
                    # the harness only: no sysinit.target (mounts, tmpfiles); the unit itself is as shipped
                    mkdir tcpulse.service.d
                    printf '[Unit]\\nDefaultDependencies=no\\n' > tcpulse.service.d/test.conf
                    printf '[Unit]\\nDescription=tcpulse test\\nDefaultDependencies=no\\nWants=tcpulse.service\\n' > tcpulse-test.target
                    exec env container=tcpulse-test %s --system --unit=tcpulse-test.target --log-target=console
                    """.formatted(unit, SYSTEMD));
            WorldReadableAgent.setMode(script, "rwxr-xr-x");
            Process boot = new ProcessBuilder("unshare", "--fork", "--pid", "--mount", "--uts", "--mount-proc", script.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("systemd.log").toFile()).start();
            try {
                long systemd = await(() -> systemdOf(boot), "systemd did not start", dir);
                await(() -> healthy(port), "the service never answered /api/v1/health", dir);
                JsonObject health = getJson(port, "/api/v1/health");
                assertEquals("ok", health.getString("status"), health.encode());
                assertTrue(health.getJsonObject("probe").getBoolean("available"), health.encode());
                // the holders walk (iter/task_file) runs under the unit's sandbox and capabilities
                assertTrue(health.getJsonObject("probe").getJsonArray("features").stream().map(JsonObject.class::cast)
                        .anyMatch(f -> f.getString("name").equals("socketHolders") && f.getBoolean("on")), health.encode());

                String mainPid = show(systemd, "MainPID"); // a pid of the namespace: find the host's
                long agentPid = boot.descendants().filter(h -> h.info().command().map(c -> c.endsWith("/java")).orElse(false))
                        .map(ProcessHandle::pid).findFirst().orElseThrow(() -> new AssertionError("no java under systemd"));
                List<String> status = Files.readAllLines(Path.of("/proc/" + agentPid + "/status"));
                String[] nspid = field(status, "NSpid:").split("\\s+");
                assertEquals(mainPid, nspid[nspid.length - 1], "the java process is the unit's main process");
                assertNotEquals("0", field(status, "Uid:").split("\\s+")[0], "runs as root");
                assertEquals(CAPS, field(status, "CapEff:"), "effective capabilities");
                assertEquals(CAPS, field(status, "CapBnd:"), "bounding set");
                assertEquals("1", field(status, "NoNewPrivs:"));
                assertEquals("2", field(status, "Seccomp:"), "the system call filter is on");

                // SIGHUP reloads: same process, still serving, no restart
                long loaded = getJson(port, "/api/v1/health").getJsonObject("config").getLong("loadedMillis");
                OpsFiles.Result reload = OpsFiles.run("nsenter", "-t", Long.toString(systemd), "-m", "-p",
                        "systemctl", "reload", "tcpulse.service");
                assertEquals(0, reload.exit(), reload.output());
                // systemctl reload returns once the signal is sent: wait for the config to be read again
                Wait.until(Duration.ofSeconds(30), () -> getJson(port, "/api/v1/health").getJsonObject("config"),
                        c -> c.getLong("loadedMillis") > loaded,
                        c -> "SIGHUP did not reload the config: " + c + "; systemd said:\n" + systemdLog(dir));
                assertEquals(200, get(port, "/api/v1/health").statusCode());
                assertEquals(mainPid, show(systemd, "MainPID"));
                assertEquals("0", show(systemd, "NRestarts"));

                // SIGTERM's exit 143 is a clean stop (SuccessExitStatus=143), not a failure
                OpsFiles.Result stop = OpsFiles.run("nsenter", "-t", Long.toString(systemd), "-m", "-p",
                        "systemctl", "stop", "tcpulse.service");
                assertEquals(0, stop.exit(), stop.output());
                assertEquals("inactive", show(systemd, "ActiveState"));
                assertEquals("success", show(systemd, "Result"));
            } finally {
                // SIGKILL to the namespace's PID 1 ends everything inside it (systemd re-executes on SIGTERM)
                systemdOf(boot).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
                boot.descendants().forEach(ProcessHandle::destroyForcibly);
                boot.destroyForcibly();
                boot.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** The shipped unit with ExecStart pointing at the classpath copy and a test config. */
    static String testUnit(WorldReadableAgent world, Path config) throws IOException {
        String shipped = Files.readString(io.tcpulse.agent.ops.OpsFiles.repo().resolve("systemd/tcpulse.service"));
        List<String> out = new ArrayList<>();
        boolean replaced = false;
        for (String line : shipped.split("\n", -1)) {
            if (line.startsWith("ExecStart=")) {
                List<String> cmd = new ArrayList<>(world.javaCommandOwnTmp());
                cmd.addAll(List.of("--config", config.toString()));
                line = "ExecStart=" + String.join(" ", cmd);
                replaced = true;
            }
            out.add(line);
        }
        assertTrue(replaced, "no ExecStart= in the unit");
        return String.join("\n", out);
    }

    private static String show(long systemd, String property) throws Exception {
        OpsFiles.Result r = OpsFiles.run("nsenter", "-t", Long.toString(systemd), "-m", "-p",
                "systemctl", "show", "tcpulse.service", "-p", property, "--value");
        assertEquals(0, r.exit(), r.output());
        return r.output().strip();
    }

    private static String field(List<String> status, String name) {
        return status.stream().filter(l -> l.startsWith(name)).findFirst()
                .map(l -> l.substring(name.length()).strip()).orElse("?");
    }

    /** unshare's child once boot.sh has exec'd systemd (/lib is /usr/lib on merged-/usr systems). */
    private static Optional<Long> systemdOf(Process unshare) {
        return unshare.children().filter(h -> h.info().command().map(c -> c.endsWith("/systemd/systemd")).orElse(false))
                .map(ProcessHandle::pid).findFirst();
    }

    private static Optional<Boolean> healthy(int port) {
        try {
            return get(port, "/api/v1/health").statusCode() == 200 ? Optional.of(true) : Optional.empty();
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    /** The first value probe gives within 60 s; fails with systemd's log otherwise. */
    private static <T> T await(Callable<Optional<T>> probe, String message, Path dir) {
        return Wait.until(Duration.ofSeconds(60), Duration.ofMillis(200), probe, Optional::isPresent,
                last -> message + "; systemd said:\n" + systemdLog(dir)).orElseThrow();
    }

    private static String systemdLog(Path dir) {
        try {
            Path log = dir.resolve("systemd.log");
            return Files.exists(log) ? Files.readString(log) : "(nothing)";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
