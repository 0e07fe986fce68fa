package io.tcpulse.agent.host;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Map;

/**
 * The process or the host out of descriptors or memory, as the JDK reports it (the
 * strerror() text in an IOException). Such an error says nothing about the file: a read
 * or a listing cut short by it must fail, not pass for an empty or default answer.
 */
public final class Exhaustion {
    private Exhaustion() {}

    private static final Map<String, String> ERRNO = Map.of(
            "Too many open files", "EMFILE",
            "Too many open files in system", "ENFILE",
            "Cannot allocate memory", "ENOMEM");

    /** EMFILE, ENFILE or ENOMEM when e (or a cause) is one of them, else null. */
    public static String errno(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String reason = t instanceof FileSystemException f ? f.getReason()
                    : t instanceof IOException ? t.getMessage() : null;
            if (reason != null && ERRNO.containsKey(reason)) return ERRNO.get(reason);
        }
        return null;
    }

    public static boolean of(Throwable e) {
        return errno(e) != null;
    }
}
