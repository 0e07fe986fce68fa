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
        String verdict) {        // VERDICT_*

    public static final String VERDICT_OK = "ok";
    public static final String VERDICT_ACCEPT_QUEUE_FULL = "accept-queue-full";
    public static final String VERDICT_SYN_FLOOD = "syn-flood-suspected";

    /** The same listener counted under another namespace (metrics fold namespaces past their bound). */
    public ListenerStatus inNetns(long other) {
        return new ListenerStatus(other, addr, port, acceptQueue, acceptQueueMax, synQueue, synQueueMax, overflows, drops,
                synAckRetransmits, resetsSent, resetsReceived, owner, syncookies, verdict);
    }

    /** Accept-queue fill, 0..1 (can exceed 1: the kernel admits backlog+1). */
    public double acceptQueueFill() {
        return acceptQueueMax <= 0 ? 0 : (double) acceptQueue / acceptQueueMax;
    }
}
