package io.tcpulse.agent.model;

/** A process holding a socket through descriptor fd (what `ss -p` lists as users:(("comm",pid=,fd=))). */
public record Holder(int pid, String comm, int fd, long cgroupId) {
}
