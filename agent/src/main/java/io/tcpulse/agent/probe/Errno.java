package io.tcpulse.agent.probe;

import java.util.Map;

/** Names and hints for the errno values the probe meets. */
final class Errno {
    private Errno() {}

    static final int EPERM = 1, ENOENT = 2, EINTR = 4, E2BIG = 7, ENOMEM = 12, EACCES = 13,
            EINVAL = 22, ENOSPC = 28, ENOSYS = 38, EOPNOTSUPP = 95;

    private static final Map<Integer, String> NAMES = Map.of(
            EPERM, "EPERM (operation not permitted: run as root or with CAP_BPF and CAP_PERFMON)",
            ENOENT, "ENOENT (no such file, program or map: kernel without the needed BTF or tracepoint?)",
            EINTR, "EINTR", E2BIG, "E2BIG", ENOMEM, "ENOMEM (out of memory or locked-memory limit)",
            EACCES, "EACCES (permission denied)",
            EINVAL, "EINVAL (invalid argument: kernel too old for tp_btf/ring buffers?)",
            ENOSPC, "ENOSPC", ENOSYS, "ENOSYS (bpf() not available)",
            EOPNOTSUPP, "EOPNOTSUPP (not supported by this kernel)");

    static String describe(int errno) {
        return NAMES.getOrDefault(errno, "errno " + errno);
    }
}
