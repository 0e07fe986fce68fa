package io.tcpulse.agent.aggregate;

/** Who owns a socket: process (pid 0 / comm "" when unknown) and systemd unit or cgroup. */
public record OwnerInfo(int pid, String comm, String unit, String cgroup) {
    public static final OwnerInfo UNKNOWN = new OwnerInfo(0, "", "", "");
}
