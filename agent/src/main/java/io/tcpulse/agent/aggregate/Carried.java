package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;

/**
 * What a set of connections carried, as the kernel counted it per socket (tcp_info's
 * figures): segments sent and retransmitted, data bytes acknowledged by the peer and received, and
 * their smoothed RTTs. Closed sockets add theirs at their end (the ->CLOSE event), live
 * ones are read at each walk.
 */
public final class Carried {
    long retransmits, segmentsSent, bytesSent, bytesReceived;
    final Histogram rtt = new Histogram();

    /** Figures without RTT samples (tests, hand-built reports). */
    public static Carried of(long retransmits, long segmentsSent, long bytesSent, long bytesReceived) {
        Carried c = new Carried();
        c.retransmits = retransmits;
        c.segmentsSent = segmentsSent;
        c.bytesSent = bytesSent;
        c.bytesReceived = bytesReceived;
        return c;
    }

    /** A ->CLOSE event's figures, weighted by its sampling ratio. */
    void addClosed(ByteBuffer b, int at, int ratio) {
        retransmits += EventDecoder.retransmits(b, at) * ratio;
        segmentsSent += EventDecoder.segmentsSent(b, at) * ratio;
        bytesSent += EventDecoder.bytesSent(b, at) * ratio;
        bytesReceived += EventDecoder.bytesReceived(b, at) * ratio;
        long srttUs = EventDecoder.srttUs(b, at);
        if (srttUs > 0) rtt.record(srttUs * 1000, ratio);
    }

    /** The live sockets' figures of a walk. */
    void addLive(WalkAccumulator.DestCount live) {
        retransmits += live.retransmits;
        segmentsSent += live.segmentsSent;
        bytesSent += live.bytesSent;
        bytesReceived += live.bytesReceived;
        if (live.rtt != null) rtt.add(live.rtt);
    }

    public void add(Carried o) {
        retransmits += o.retransmits;
        segmentsSent += o.segmentsSent;
        bytesSent += o.bytesSent;
        bytesReceived += o.bytesReceived;
        rtt.add(o.rtt);
    }

    public Carried copy() {
        Carried c = new Carried();
        c.add(this);
        return c;
    }

    /** a + b, neither changed. */
    public static Carried sum(Carried a, Carried b) {
        Carried c = a.copy();
        c.add(b);
        return c;
    }

    public boolean isEmpty() {
        return retransmits == 0 && segmentsSent == 0 && bytesSent == 0 && bytesReceived == 0 && rtt.count() == 0;
    }

    public long retransmits() { return retransmits; }
    /** Segments sent, retransmits included (tcp_info segs_out; TcpOutSegs leaves retransmits out): retransmits / segmentsSent is the retransmit ratio. */
    public long segmentsSent() { return segmentsSent; }
    public long bytesSent() { return bytesSent; }
    public long bytesReceived() { return bytesReceived; }
    /** RTT samples: one per closed socket that had one, one per live socket at the last walk. */
    public Histogram rtt() { return rtt; }
}
