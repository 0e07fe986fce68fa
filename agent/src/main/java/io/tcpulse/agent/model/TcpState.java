package io.tcpulse.agent.model;

import java.util.Locale;

/** TCP states with the kernel's numbers (include/net/tcp_states.h). */
public enum TcpState {
    ESTABLISHED(1), SYN_SENT(2), SYN_RECV(3), FIN_WAIT1(4), FIN_WAIT2(5), TIME_WAIT(6),
    CLOSE(7), CLOSE_WAIT(8), LAST_ACK(9), LISTEN(10), CLOSING(11), NEW_SYN_RECV(12);

    private static final TcpState[] BY_NUMBER = new TcpState[13];
    static {
        for (TcpState s : values()) BY_NUMBER[s.kernel] = s;
    }

    /** States a live socket can be counted in (CLOSE sockets are gone from the tables). */
    public static final TcpState[] COUNTED = {
        ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
        CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV };

    public final int kernel;

    TcpState(int kernel) { this.kernel = kernel; }

    /** The state for a kernel number, or null when the number is unknown. */
    public static TcpState ofKernel(int n) {
        return n >= 0 && n < BY_NUMBER.length ? BY_NUMBER[n] : null;
    }

    /** Prometheus label value: lower case, e.g. time_wait. */
    public String label() { return name().toLowerCase(Locale.ROOT); }

    /** Parses a name as users write it: "TIME_WAIT", "time-wait", "time_wait". */
    public static TcpState parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
