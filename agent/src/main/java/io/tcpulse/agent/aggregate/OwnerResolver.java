package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.Owner;
import io.tcpulse.agent.host.Owners;
import io.tcpulse.agent.model.SocketRecord;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Names a socket's owner: the process tcpulse saw connect() or listen() (from the
 * probe), else the process holding the socket's inode (a /proc/PID/fd scan, for
 * sockets older than the agent), and the systemd unit or container of its cgroup.
 */
final class OwnerResolver implements Function<SocketRecord, OwnerInfo> {
    /** A /proc scan for unknown inodes runs at most this often: it reads every process's fds. */
    static final long SCAN_INTERVAL_NS = TimeUnit.SECONDS.toNanos(10);

    /** The step name a failed lookup is counted under (tcpulse_probe_errors_total{step="owners"}). */
    static final String STEP = "owners";

    private final Owners owners;
    private StepGuard guard = StepGuard.UNGUARDED;
    private Map<Long, Owner> byInode = new HashMap<>();
    private long lastScanNs;
    private boolean scanned;

    OwnerResolver(Owners owners) {
        this.owners = owners;
    }

    void guard(StepGuard guard) {
        this.guard = guard;
    }

    @Override
    public OwnerInfo apply(SocketRecord r) {
        int pid = r.pid();
        String comm = r.comm();
        if (pid == 0 && r.inode() != 0) {
            Owner o = byInode.get(r.inode());
            if (o == null && (!scanned || System.nanoTime() - lastScanNs >= SCAN_INTERVAL_NS)) {
                // a failed scan keeps the last one and is tried again at the next interval at the earliest
                Map<Long, Owner> fresh = guard.attempt(STEP, owners::scanSockets, null);
                if (fresh != null) byInode = fresh;
                lastScanNs = System.nanoTime();
                scanned = true;
                o = byInode.get(r.inode());
            }
            if (o != null) {
                pid = o.pid();
                comm = o.comm();
            }
        }
        String cgroup = r.cgroupId() == 0 ? ""
                : guard.attempt(STEP, () -> owners.cgroupPath(r.cgroupId()), java.util.Optional.<String>empty()).orElse("");
        String unit = cgroup.isEmpty() ? "" : Owners.unitOf(cgroup);
        return new OwnerInfo(pid, comm == null ? "" : comm, unit, cgroup);
    }
}
