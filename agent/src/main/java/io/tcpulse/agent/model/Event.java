package io.tcpulse.agent.model;

import java.net.InetAddress;

/** One decoded probe event (see native/tcpulse.h, struct tcpulse_event). */
public record Event(
        long tsNs,            // CLOCK_MONOTONIC
        long wallMillis,      // tsNs mapped to the wall clock
        Kind kind,
        long netns,
        int family,           // 4 or 6
        InetAddress local, int localPort,
        InetAddress remote, int remotePort,
        TcpState from, TcpState to,   // null when the kernel sent an unknown number
        int fromRaw, int toRaw,
        long prevStateNs,     // time spent in `from`, 0 = unknown
        long ageNs,           // 0 = unknown
        long sockId,
        long cgroupId,
        int pid, String comm, // 0 / "" when unknown
        int sampleRatio,
        int flags,
        long aux) {

    public enum Kind { STATE, RESET_SENT, RESET_RECV, SYNACK_RETRANS, LISTEN_OVERFLOW, UNKNOWN }

    public static final int F_OWNER_KNOWN = 0x01;
    public static final int F_TIMEWAIT = 0x02;
    public static final int F_TW_FIN_WAIT2 = 0x04;
    public static final int F_BORN_KNOWN = 0x08;
    public static final int F_ACTIVE = 0x10;

    /** True when this ->CLOSE handed the socket to a TIME_WAIT (substate) mini-socket. */
    public boolean enteredTimeWait() {
        return (flags & F_TIMEWAIT) != 0 && (flags & F_TW_FIN_WAIT2) == 0;
    }
}
