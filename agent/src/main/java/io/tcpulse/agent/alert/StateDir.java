package io.tcpulse.agent.alert;

import io.tcpulse.agent.config.Config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the outbox and alert state live. An explicit stateDir (config or --state-dir)
 * must be usable, or the agent refuses to start. Without one, the first usable of:
 * $STATE_DIRECTORY (systemd's StateDirectory=), /var/lib/tcpulse, then
 * $XDG_STATE_HOME/tcpulse or ~/.local/state/tcpulse (an unprivileged user's quick start).
 * "Usable": created if missing, and a file can be written in it.
 */
public final class StateDir {
    public static final String DEFAULT = "/var/lib/tcpulse";

    private StateDir() {}

    public static Path resolve(String configured) throws Config.ConfigException {
        if (configured != null) {
            Path p = Path.of(configured);
            String problem = problem(p);
            if (problem != null) {
                throw new Config.ConfigException("stateDir " + p + " is not usable (" + problem + "): alerts need a"
                        + " writable directory for their outbox and state; fix its permissions or set another"
                        + " with --state-dir DIR or \"stateDir\" in the config file");
            }
            return p;
        }
        List<String> tried = new ArrayList<>();
        for (Path p : candidates()) {
            String problem = problem(p);
            if (problem == null) return p;
            tried.add(p + " (" + problem + ")");
        }
        throw new Config.ConfigException("no writable state directory for the alert outbox: tried "
                + String.join(", ", tried) + "; set one with --state-dir DIR or \"stateDir\" in the config file");
    }

    static List<Path> candidates() {
        List<Path> out = new ArrayList<>();
        String systemd = System.getenv("STATE_DIRECTORY");
        if (systemd != null && !systemd.isBlank()) out.add(Path.of(systemd.split(":")[0]));
        out.add(Path.of(DEFAULT));
        String xdg = System.getenv("XDG_STATE_HOME");
        if (xdg != null && !xdg.isBlank()) out.add(Path.of(xdg, "tcpulse"));
        else out.add(Path.of(System.getProperty("user.home"), ".local", "state", "tcpulse"));
        return out;
    }

    /** Why p cannot hold the state, or null. */
    static String problem(Path p) {
        try {
            Files.createDirectories(p);
            Path probe = Files.createTempFile(p, ".probe-", ".tmp");
            Files.delete(probe);
            return null;
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
    }
}
