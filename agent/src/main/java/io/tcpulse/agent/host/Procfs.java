package io.tcpulse.agent.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Directory listings that tolerate a changing /proc: what vanishes is simply not listed.
 * Running out of descriptors or memory is not tolerated: a listing cut short by that
 * would pass for complete, so it throws and the caller's step fails and is retried.
 */
final class Procfs {
    private Procfs() {}

    /** Out of descriptors or memory (see {@link Exhaustion}). */
    static boolean exhausted(Throwable e) {
        return Exhaustion.of(e);
    }

    /** /proc/[0-9]* */
    static List<Path> pidDirs(Path proc) {
        return list(proc, p -> isNumber(p.getFileName().toString()));
    }

    static List<Path> list(Path dir) {
        return list(dir, p -> true);
    }

    static List<Path> list(Path dir, DirectoryStream.Filter<Path> filter) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, filter)) {
            entries.forEach(out::add);
        } catch (IOException | RuntimeException e) {
            if (exhausted(e)) {
                throw e instanceof java.io.UncheckedIOException u ? u
                        : new java.io.UncheckedIOException(e.getMessage(), e instanceof IOException io ? io : new IOException(e));
            }
            // missing, unreadable, or gone meanwhile: what was read so far stands
        }
        return out;
    }

    static boolean isNumber(String s) {
        if (s.isEmpty() || s.length() > 10) return false;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        }
        return true;
    }

    static int pidOf(Path pidDir) {
        return Integer.parseInt(pidDir.getFileName().toString());
    }
}
