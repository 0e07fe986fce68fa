package io.tcpulse.agent.aggregate;

/**
 * One listening socket, live and with its history since the agent started
 * (GET /api/v1/listeners). Queue figures come from the last walk; counters are exact.
 */
public record ListenerStatus(
        long netns, String addr, int port,
        int acceptQueue, int acceptQueueMax,
        int synQueue, int synQueueMax,
        long overflows,          // accept-queue overflows attributed to this listener
        long drops,              // listen drops (sk_drops)
        long synAckRetransmits,
        long resetsSent, long resetsReceived, // on this listener's port
        OwnerInfo owner,
        boolean syncookies,      // net.ipv4.tcp_syncookies of its namespace != 0
        String verdict,          // VERDICT_*
        Children children) {     // the connections it accepted

    /**
     * The connections a listener accepted (by its port): sockets by state at the last walk,
     * how many were accepted since the agent started, and what they carried (closed ones at
     * their end, live ones at the last walk).
     */
    public record Children(java.util.Map<io.tcpulse.agent.model.TcpState, Long> states, long accepted, Carried carried) {
        public static final Children NONE = new Children(java.util.Map.of(), 0, new Carried());

        public Children plus(Children o) {
            java.util.Map<io.tcpulse.agent.model.TcpState, Long> s = new java.util.EnumMap<>(io.tcpulse.agent.model.TcpState.class);
            s.putAll(states);
            o.states.forEach((k, v) -> s.merge(k, v, Long::sum));
            return new Children(java.util.Collections.unmodifiableMap(s), accepted + o.accepted, Carried.sum(carried, o.carried));
        }
    }

    /** A listener without its children's figures (tests, degraded mode). */
    public ListenerStatus(long netns, String addr, int port, int acceptQueue, int acceptQueueMax, int synQueue, int synQueueMax,
                          long overflows, long drops, long synAckRetransmits, long resetsSent, long resetsReceived,
                          OwnerInfo owner, boolean syncookies, String verdict) {
        this(netns, addr, port, acceptQueue, acceptQueueMax, synQueue, synQueueMax, overflows, drops, synAckRetransmits,
                resetsSent, resetsReceived, owner, syncookies, verdict, Children.NONE);
    }

    public ListenerStatus withChildren(Children c) {
        return new ListenerStatus(netns, addr, port, acceptQueue, acceptQueueMax, synQueue, synQueueMax, overflows, drops,
                synAckRetransmits, resetsSent, resetsReceived, owner, syncookies, verdict, c);
    }

    public static final String VERDICT_OK = "ok";
    public static final String VERDICT_ACCEPT_QUEUE_FULL = "accept-queue-full";
    public static final String VERDICT_SYN_FLOOD = "syn-flood-suspected";

    /** The same listener counted under another namespace (metrics fold namespaces past their bound). */
    public ListenerStatus inNetns(long other) {
        return new ListenerStatus(other, addr, port, acceptQueue, acceptQueueMax, synQueue, synQueueMax, overflows, drops,
                synAckRetransmits, resetsSent, resetsReceived, owner, syncookies, verdict, children);
    }

    /** Accept-queue fill, 0..1 (can exceed 1: the kernel admits backlog+1). */
    public double acceptQueueFill() {
        return acceptQueueMax <= 0 ? 0 : (double) acceptQueue / acceptQueueMax;
    }
}
