package io.tcpulse.agent.ops;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** Repository files and the host tools (systemd-analyze, promtool) that judge them. */
public final class OpsFiles {
    private OpsFiles() {}

    public record Result(int exit, String output) {}

    /** The repository root: surefire runs in agent/. */
    public static Path repo() {
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("systemd")) && Files.isDirectory(p.resolve("agent"))) return p;
        }
        throw new IllegalStateException("repository root not found above " + here);
    }

    /**
     * Runs a tool to completion (stdin closed, or fed `input`), stdout and stderr together.
     * A missing tool fails the test: CI installs them (scripts/install-deps.sh).
     */
    public static Result runWithInput(String input, String... cmd) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            fail(cmd[0] + " is not installed (scripts/install-deps.sh installs it): " + e.getMessage());
            throw e;
        }
        if (input != null) p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("timed out: " + String.join(" ", List.of(cmd)));
        }
        return new Result(p.exitValue(), out);
    }

    public static Result run(String... cmd) throws IOException, InterruptedException {
        return runWithInput(null, cmd);
    }
}
