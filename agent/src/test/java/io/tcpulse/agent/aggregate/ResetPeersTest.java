package io.tcpulse.agent.aggregate;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static io.tcpulse.agent.probe.EventDecoder.*;
import static org.junit.jupiter.api.Assertions.*;

/** RSTs per peer from raw records (native/tcpulse.h layout), runs and interleavings alike. */
class ResetPeersTest {

    /** An IPv4 RST event from 10.0.0.last to local port, in state ESTABLISHED. */
    static ByteBuffer rst(long netns, int last, int localPort, boolean sent, int ratio) {
        ByteBuffer b = ByteBuffer.allocate(EVENT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(EV_NETNS, (int) netns);
        b.putInt(EV_SAMPLE_RATIO, ratio);
        b.putShort(EV_FAMILY, (short) 2);
        b.putShort(EV_SPORT, (short) localPort);
        b.put(EV_KIND, (byte) (sent ? KIND_RESET_SENT : KIND_RESET_RECV));
        b.put(EV_OLDSTATE, (byte) 1);
        b.put(EV_DADDR, (byte) 10).put(EV_DADDR + 3, (byte) last);
        return b;
    }

    static void add(ResetPeers p, ByteBuffer b) {
        p.add(b, 0);
    }

    @Test
    void runsAndInterleavedPeersAreCountedApartWeightedBySampling() {
        ResetPeers p = new ResetPeers();
        for (int i = 0; i < 5; i++) add(p, rst(7, 1, 8080, true, 1));
        add(p, rst(7, 2, 8080, true, 1));
        add(p, rst(7, 1, 8080, false, 1));   // same peer, other direction
        add(p, rst(7, 1, 8080, true, 4));    // sampled 1 in 4: stands for 4
        add(p, rst(8, 1, 8080, true, 1));    // same key in another namespace
        add(p, rst(7, 1, 9090, true, 1));    // another local port

        List<Snapshot.ResetPeer> top = p.top(7);
        assertEquals(new Snapshot.ResetPeer("10.0.0.1", 8080, "ESTABLISHED", "sent", 9), top.get(0));
        assertEquals(4, top.size(), top.toString());
        assertTrue(top.contains(new Snapshot.ResetPeer("10.0.0.2", 8080, "ESTABLISHED", "sent", 1)));
        assertTrue(top.contains(new Snapshot.ResetPeer("10.0.0.1", 8080, "ESTABLISHED", "received", 1)));
        assertTrue(top.contains(new Snapshot.ResetPeer("10.0.0.1", 9090, "ESTABLISHED", "sent", 1)));
        assertEquals(List.of(new Snapshot.ResetPeer("10.0.0.1", 8080, "ESTABLISHED", "sent", 1)), p.top(8));
    }

    @Test
    void peersBeyondTheBoundFoldIntoOther() {
        ResetPeers p = new ResetPeers();
        for (int port = 1; port <= ResetPeers.MAX_KEYS_PER_NETNS + 3; port++) add(p, rst(7, 1, port, true, 1));
        add(p, rst(7, 1, 1, true, 1)); // a known key still counts as itself
        List<Snapshot.ResetPeer> top = p.top(7);
        assertEquals(new Snapshot.ResetPeer("other", 0, "", "sent", 3), top.get(0));
        assertEquals(new Snapshot.ResetPeer("10.0.0.1", 1, "ESTABLISHED", "sent", 2), top.get(1));
    }
}
