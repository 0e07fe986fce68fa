package io.tcpulse.agent.ops;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * scripts/install.sh and uninstall.sh into a DESTDIR (the host and its systemd are left
 * alone): what lands where, that a second run changes nothing, that a changed config and
 * the state survive an uninstall, and that --purge removes them.
 */
class InstallScriptTest {
    static final Path REPO = OpsFiles.repo();

    @TempDir
    Path dir;

    private String script(String name, Path root, Path jar, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", REPO.resolve("scripts/" + name).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("DESTDIR", root.toString());
        if (jar != null) env.put("TCPULSE_JAR", jar.toString());
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), name + ":\n" + out);
        return out;
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void installIsIdempotentAndUninstallKeepsWhatIsYours() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root"));
        Path jar = Files.writeString(dir.resolve("tcpulse.jar"), "not really a jar");

        String first = script("install.sh", root, jar);
        for (String path : List.of("/usr/lib/tcpulse/tcpulse.jar", "/etc/systemd/system/tcpulse.service",
                "/usr/share/doc/tcpulse/operations.md", "/usr/bin/tcpulse", "/etc/tcpulse/tcpulse.yml")) {
            assertTrue(first.contains("installed  " + path), path + " not reported:\n" + first);
            assertTrue(Files.isRegularFile(root.resolve(path.substring(1))), path);
        }
        assertTrue(first.contains("systemd left alone"), first);
        assertEquals(Files.readString(REPO.resolve("systemd/tcpulse.service")),
                Files.readString(root.resolve("etc/systemd/system/tcpulse.service")));
        assertEquals("rw-r--r--", mode(root.resolve("usr/lib/tcpulse/tcpulse.jar")));
        assertEquals("rwxr-xr-x", mode(root.resolve("usr/bin/tcpulse")));
        assertTrue(Files.readString(root.resolve("usr/bin/tcpulse")).contains("exec java -XX:TieredStopAtLevel=1 -jar /usr/lib/tcpulse/tcpulse.jar \"$@\""));

        String second = script("install.sh", root, jar);
        assertFalse(second.contains("installed  /usr") || second.contains("updated"), second);
        assertTrue(second.contains("unchanged  /usr/lib/tcpulse/tcpulse.jar"), second);
        assertTrue(second.contains("kept       /etc/tcpulse/tcpulse.yml"), second);

        Files.writeString(jar, "a newer build");
        assertTrue(script("install.sh", root, jar).contains("updated  /usr/lib/tcpulse/tcpulse.jar"));

        // the user's config and the service's state outlive an uninstall
        Path config = root.resolve("etc/tcpulse/tcpulse.yml");
        Files.writeString(config, "{\"listen\": \"127.0.0.1:9999\"}");
        Path state = Files.createDirectories(root.resolve("var/lib/private/tcpulse"));
        Files.writeString(state.resolve("outbox.json"), "[]");
        String removed = script("uninstall.sh", root, null);
        for (String path : List.of("/etc/systemd/system/tcpulse.service", "/usr/bin/tcpulse", "/usr/lib/tcpulse",
                "/usr/share/doc/tcpulse")) {
            assertTrue(removed.contains("removed    " + path), path + ":\n" + removed);
            assertFalse(Files.exists(root.resolve(path.substring(1))), path);
        }
        assertTrue(Files.exists(config), "a changed config is kept");
        assertTrue(Files.exists(state.resolve("outbox.json")), "state is kept");
        assertTrue(removed.contains("kept       /etc/tcpulse"), removed);
        assertTrue(removed.contains("kept       /var/lib/tcpulse"), removed);

        String purged = script("uninstall.sh", root, null, "--purge");
        assertFalse(Files.exists(root.resolve("etc/tcpulse")), purged);
        assertFalse(Files.exists(state), purged);
    }

    @Test
    void anUnchangedExampleConfigGoesWithTheRest() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root"));
        Path jar = Files.writeString(dir.resolve("tcpulse.jar"), "jar");
        script("install.sh", root, jar);
        String out = script("uninstall.sh", root, null);
        assertTrue(out.contains("removed    /etc/tcpulse/tcpulse.yml"), out);
        assertFalse(Files.exists(root.resolve("etc/tcpulse")), out);
    }

    @Test
    void scriptsRefuseUnknownOptions() throws Exception {
        Process p = new ProcessBuilder("bash", REPO.resolve("scripts/install.sh").toString(), "--bogus")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.waitFor());
        assertTrue(out.contains("unknown option --bogus"), out);
    }
}
