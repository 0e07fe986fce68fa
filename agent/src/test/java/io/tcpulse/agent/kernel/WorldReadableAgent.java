package io.tcpulse.agent.kernel;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The agent's classes and jars copied where any user may read them (root's ~/.m2 is
 * 0750), for tests that run the agent as another user. Tests run before `package`, so
 * there is no tcpulse.jar yet: the copy is the test JVM's classpath, less test classes.
 * JNA unpacks libtcpulse.so from it into scratch/.
 */
final class WorldReadableAgent implements AutoCloseable {
    final Path root;
    final String classpath;
    /** Mode 777: JNA's unpacked libraries, alert state, config files. */
    final Path scratch;

    private WorldReadableAgent(Path root, String classpath, Path scratch) {
        this.root = root;
        this.classpath = classpath;
        this.scratch = scratch;
    }

    static WorldReadableAgent create() throws IOException {
        return create(Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** Under parent: a service with PrivateTmp= or ProtectHome= sees neither /tmp nor /root. */
    static WorldReadableAgent create(Path parent) throws IOException {
        Path root = Files.createTempDirectory(parent, "tcpulse-world-");
        List<String> entries = new ArrayList<>();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int i = 0;
        for (String entry : cp.split(File.pathSeparator)) {
            Path src = Path.of(entry);
            if (entry.isBlank() || !Files.exists(src) || entry.contains("test-classes")) continue;
            Path dst = root.resolve("cp" + i++ + (Files.isDirectory(src) ? "" : ".jar"));
            copy(src, dst);
            entries.add(dst.toString());
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all::iterator) setMode(p, Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--");
        }
        Path scratch = Files.createDirectories(root.resolve("scratch"));
        setMode(scratch, "rwxrwxrwx");
        return new WorldReadableAgent(root, String.join(File.pathSeparator, entries), scratch);
    }

    /** java and its options, up to and including the main class; temporary files in scratch. */
    List<String> javaCommand() {
        List<String> cmd = new ArrayList<>(javaCommandOwnTmp());
        cmd.addAll(1, List.of("-Djna.tmpdir=" + scratch, "-Djava.io.tmpdir=" + scratch));
        return cmd;
    }

    /** The same with the JVM's own /tmp (a service's private one). */
    List<String> javaCommandOwnTmp() {
        String java = ProcessHandle.current().info().command().orElse("java");
        return List.of(java, "-cp", classpath, "io.tcpulse.agent.Main");
    }

    /** A directory in scratch that anyone may write. */
    Path scratchDir(String prefix) throws IOException {
        Path d = Files.createTempDirectory(scratch, prefix);
        setMode(d, "rwxrwxrwx");
        return d;
    }

    @Override
    public void close() throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            all.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    private static void copy(Path src, Path dst) throws IOException {
        if (!Files.isDirectory(src)) {
            Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (Stream<Path> all = Files.walk(src)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path to = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(to);
                else Files.copy(p, to, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    static void setMode(Path p, String mode) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    }
}
