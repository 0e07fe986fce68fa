package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.host.Owners;
import io.tcpulse.agent.model.Holder;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.probe.HolderDecoder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Names a socket's owner: the processes holding a descriptor for it (the kernel's holders
 * walk, else a /proc/PID/fd scan), as `ss -p` does; where none is known, the process
 * tcpulse saw connect() or listen(). Also the systemd unit or container of its cgroup.
 * Runs for CLOSE_WAIT sockets and listeners at each walk, never per event.
 */
final class OwnerResolver implements Function<SocketRecord, OwnerInfo> {
    /** A /proc scan (the fallback) runs at most this often: it reads every process's fds. */
    static final long SCAN_INTERVAL_NS = TimeUnit.SECONDS.toNanos(10);

    /** The step name a failed lookup is counted under (tcpulse_probe_errors_total{step="owners"}). */
    static final String STEP = "owners";

    private final Owners owners;
    private final HolderCache holders;
    private StepGuard guard = StepGuard.UNGUARDED;

    OwnerResolver(Owners owners, HolderCache holders) {
        this.owners = owners;
        this.holders = holders;
    }

    void guard(StepGuard guard) {
        this.guard = guard;
        holders.guard(guard);
    }

    @Override
    public OwnerInfo apply(SocketRecord r) {
        HolderDecoder.Walk w = holders.current();
        List<Holder> hs = null;
        if (w != null && r.inode() != 0) {
            hs = w.byInode().get(r.inode());
            if (hs == null) { // held since the walk? look once more (every second, a /proc scan every 10 s)
                w = holders.newerThan(r.stateSinceNs());
                if (w != null) hs = w.byInode().get(r.inode());
            }
        }
        if (hs != null && !hs.isEmpty()) return fromHolders(r, hs);
        String cgroup = cgroupPath(r.cgroupId());
        String unit = cgroup.isEmpty() ? "" : Owners.unitOf(cgroup);
        // the kernel saw every process after the socket got here and none holds it
        if (w != null && w.complete() && holders.takenAtNs() - r.stateSinceNs() >= 0) {
            return new OwnerInfo(0, "", unit, cgroup, List.of());
        }
        return new OwnerInfo(r.pid(), r.comm() == null ? "" : r.comm(), unit, cgroup);
    }

    /** The creator where it still holds the socket, else the lowest pid; all of them when several. */
    private OwnerInfo fromHolders(SocketRecord r, List<Holder> hs) {
        Holder main = hs.get(0);
        for (Holder h : hs) if (r.pid() != 0 && h.pid() == r.pid()) main = h;
        List<OwnerInfo.HolderInfo> all = null;
        if (hs.size() > 1) {
            all = new ArrayList<>(hs.size());
            for (Holder h : hs) {
                String cg = cgroupPath(h.cgroupId() != 0 ? h.cgroupId() : r.cgroupId());
                all.add(new OwnerInfo.HolderInfo(h.pid(), h.comm(), cg.isEmpty() ? "" : Owners.unitOf(cg), cg,
                        r.pid() != 0 && h.pid() == r.pid()));
            }
            all = List.copyOf(all);
        }
        // the process's own cgroup (a worker may sit elsewhere than the socket's creator)
        String cgroup = cgroupPath(main.cgroupId() != 0 ? main.cgroupId() : r.cgroupId());
        return new OwnerInfo(main.pid(), main.comm(), cgroup.isEmpty() ? "" : Owners.unitOf(cgroup), cgroup, all);
    }

    private String cgroupPath(long cgroupId) {
        return cgroupId == 0 ? ""
                : guard.attempt(STEP, () -> owners.cgroupPath(cgroupId), java.util.Optional.<String>empty()).orElse("");
    }
}
