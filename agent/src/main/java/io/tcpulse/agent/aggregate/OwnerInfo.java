package io.tcpulse.agent.aggregate;

import java.util.List;

/**
 * Who owns a socket: process (pid 0 / comm "" when unknown) and systemd unit or cgroup.
 * holders: every process holding a descriptor for it when there are several (the one that
 * created it, by connect() or listen(), marked); empty when no process holds it (not yet
 * accepted, orphaned); null when one process does (the one named) or it is not known.
 */
public record OwnerInfo(int pid, String comm, String unit, String cgroup, List<HolderInfo> holders) {
    public static final OwnerInfo UNKNOWN = new OwnerInfo(0, "", "", "");

    public OwnerInfo(int pid, String comm, String unit, String cgroup) {
        this(pid, comm, unit, cgroup, null);
    }

    /** One process holding the socket; creator: it made the socket (connect(), listen()). */
    public record HolderInfo(int pid, String comm, String unit, String cgroup, boolean creator) {}

    /** No process holds it: the kernel does (not yet accepted, orphaned). */
    public boolean unheld() {
        return holders != null && holders.isEmpty();
    }
}
