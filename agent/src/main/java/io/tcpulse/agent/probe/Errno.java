package io.tcpulse.agent.probe;

import java.util.Map;

/** Names and hints for the errno values the probe meets. */
final class Errno {
    private Errno() {}

    static final int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, EBADF = 9, EAGAIN = 11,
            ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, ENODEV = 19, EINVAL = 22, ENFILE = 23, EMFILE = 24,
            ENOSPC = 28, ENOSYS = 38, EOPNOTSUPP = 95;

    private static final Map<Integer, String> SYMBOLS = Map.ofEntries(
            Map.entry(EPERM, "EPERM"), Map.entry(ENOENT, "ENOENT"), Map.entry(ESRCH, "ESRCH"), Map.entry(EINTR, "EINTR"),
            Map.entry(EIO, "EIO"), Map.entry(E2BIG, "E2BIG"), Map.entry(EBADF, "EBADF"), Map.entry(EAGAIN, "EAGAIN"),
            Map.entry(ENOMEM, "ENOMEM"), Map.entry(EACCES, "EACCES"), Map.entry(EFAULT, "EFAULT"),
            Map.entry(EBUSY, "EBUSY"), Map.entry(ENODEV, "ENODEV"), Map.entry(EINVAL, "EINVAL"),
            Map.entry(ENFILE, "ENFILE"), Map.entry(EMFILE, "EMFILE"), Map.entry(ENOSPC, "ENOSPC"),
            Map.entry(ENOSYS, "ENOSYS"), Map.entry(EOPNOTSUPP, "EOPNOTSUPP"));

    private static final Map<Integer, String> HINTS = Map.of(
            EPERM, "operation not permitted: run as root or with CAP_BPF and CAP_PERFMON",
            ENOENT, "no such file, program or map: kernel without the needed BTF or tracepoint?",
            ENOMEM, "out of memory or locked-memory limit",
            EACCES, "permission denied",
            EINVAL, "invalid argument: kernel too old for tp_btf/ring buffers?",
            EMFILE, "too many open files: the process is at RLIMIT_NOFILE",
            ENFILE, "too many open files in the system",
            ENOSYS, "bpf() not available",
            EOPNOTSUPP, "not supported by this kernel");

    /** "EMFILE", or "errno 133" for a number without a name here. */
    static String name(int errno) {
        return SYMBOLS.getOrDefault(errno, "errno " + errno);
    }

    /** "EMFILE (too many open files: ...)": the name and, when there is one, a hint. */
    static String describe(int errno) {
        String hint = HINTS.get(errno);
        return hint == null ? name(errno) : name(errno) + " (" + hint + ")";
    }

    /** Running out of something the kernel gives back once others let go: retried, never taken as final. */
    static boolean isExhaustion(int errno) {
        return errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == EAGAIN || errno == EINTR;
    }
}
