package io.tcpulse.agent.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's open file limit (RLIMIT_NOFILE) and how many descriptors it holds. */
public final class FileDescriptors {
    private FileDescriptors() {}

    /** The soft RLIMIT_NOFILE ("Max open files" in /proc/self/limits); Long.MAX_VALUE when unlimited, -1 unknown. */
    public static long softLimit() {
        return softLimit(Path.of("/proc/self/limits"));
    }

    static long softLimit(Path limits) {
        try {
            for (String line : Files.readAllLines(limits)) {
                if (!line.startsWith("Max open files")) continue;
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc hidden
        }
        return -1;
    }

    /** Descriptors open now (/proc/self/fd, less the one that lists it), or -1 when unknown. */
    public static int open() {
        int n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path ignored : fds) n++;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return Math.max(0, n - 1);
    }
}
