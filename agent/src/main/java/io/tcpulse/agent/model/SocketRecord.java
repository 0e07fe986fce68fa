package io.tcpulse.agent.model;

import java.net.InetAddress;

/**
 * One socket as the kernel walk (or /proc/net/tcp) reports it.
 * Listener-only fields are 0 for other sockets; unknown owner: pid 0, comm "".
 */
public record SocketRecord(
        long netns,
        TcpState state,
        InetAddress local, int localPort,
        InetAddress remote, int remotePort,
        long sockId,          // socket cookie (0 from /proc)
        long inode,           // socket inode (0 for timewait/request sockets)
        long cgroupId,
        int pid, String comm, // owner recorded at connect()/listen()
        int uid,
        int acceptQueue, int acceptQueueMax, int synQueue, long drops,
        long stateSinceNs,    // CLOCK_MONOTONIC ns when it entered state, 0 = unknown
        long bornNs,          // 0 = unknown
        int timerMs,          // timewait: ms to expiry
        boolean timewait, boolean request,
        Carried carried) {    // full sockets from the kernel walk; NONE elsewhere

    /** What a full socket carried so far, as the kernel counts it (tcp_info's figures). */
    public record Carried(long bytesSent, long bytesReceived, long retransmits, long srttUs, long segmentsSent) {
        public static final Carried NONE = new Carried(0, 0, 0, 0, 0);
    }

    /** A socket whose figures nobody read (/proc/net/tcp, tests). */
    public SocketRecord(long netns, TcpState state, InetAddress local, int localPort, InetAddress remote, int remotePort,
                        long sockId, long inode, long cgroupId, int pid, String comm, int uid,
                        int acceptQueue, int acceptQueueMax, int synQueue, long drops,
                        long stateSinceNs, long bornNs, int timerMs, boolean timewait, boolean request) {
        this(netns, state, local, localPort, remote, remotePort, sockId, inode, cgroupId, pid, comm, uid,
                acceptQueue, acceptQueueMax, synQueue, drops, stateSinceNs, bornNs, timerMs, timewait, request, Carried.NONE);
    }
}
