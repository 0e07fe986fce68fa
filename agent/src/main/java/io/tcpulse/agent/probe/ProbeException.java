package io.tcpulse.agent.probe;

/** A libtcpulse call failed: names the call, the errno and what the kernel or libbpf said. */
public final class ProbeException extends Exception {
    private final int errno;

    public ProbeException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.describe(errno)
                + (detail == null || detail.isBlank() ? "" : " (" + detail.strip() + ")"));
        this.errno = errno;
    }

    public ProbeException(String message) {
        super(message);
        this.errno = 0;
    }

    /** Positive errno, 0 when not from a syscall. */
    public int errno() { return errno; }
}
