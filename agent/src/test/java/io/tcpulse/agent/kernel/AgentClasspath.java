package io.tcpulse.agent.kernel;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * The agent's classpath for a child JVM, with its classes in a jar as tcpulse.jar has them
 * (tests run before `package`). From a directory every class loaded is a file opened: a
 * child run out of descriptors on purpose could not load one; from a jar, opened once at
 * start, it can, as in production.
 */
final class AgentClasspath {
    private AgentClasspath() {}

    private static String classpath;

    static synchronized String get() throws IOException {
        if (classpath != null) return classpath;
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> entries = new ArrayList<>();
        for (String entry : cp.split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (entry.isBlank() || !Files.exists(p) || entry.contains("test-classes")) continue;
            entries.add(Files.isDirectory(p) ? jar(p).toString() : entry);
        }
        classpath = String.join(File.pathSeparator, entries);
        return classpath;
    }

    private static Path jar(Path classes) throws IOException {
        Path jar = Files.createTempFile("tcpulse-agent-classes-", ".jar");
        jar.toFile().deleteOnExit();
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
             Stream<Path> all = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) all.sorted()::iterator) {
                String name = classes.relativize(f).toString().replace(File.separatorChar, '/');
                if (name.isEmpty()) continue;
                if (Files.isDirectory(f)) {
                    out.putNextEntry(new JarEntry(name + "/"));
                } else {
                    out.putNextEntry(new JarEntry(name));
                    try (var in = Files.newInputStream(f)) {
                        in.transferTo(out);
                    }
                }
                out.closeEntry();
            }
        }
        return jar;
    }
}
