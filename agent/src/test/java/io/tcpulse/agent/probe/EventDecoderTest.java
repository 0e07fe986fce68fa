package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static io.tcpulse.agent.probe.EventDecoder.*;
import static org.junit.jupiter.api.Assertions.*;

/** One test per field, from bytes written by hand at the offsets of native/tcpulse.h. */
class EventDecoderTest {

    /** A valid IPv4 state event: ESTABLISHED -> FIN_WAIT1, 127.0.0.1:40000 -> 127.0.0.2:8080. */
    static ByteBuffer event() {
        ByteBuffer b = ByteBuffer.allocate(EVENT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(EV_TS_NS, 5_000_000_000L);
        b.putLong(EV_SOCK_ID, 0x1122334455667788L);
        b.putLong(EV_PREV_STATE_NS, 1_500_000L);
        b.putLong(EV_AGE_NS, 9_000_000L);
        b.putLong(EV_CGROUP_ID, 4242L);
        b.putInt(EV_NETNS, 0xF0000001); // above 2^31: must stay unsigned
        b.putInt(EV_PID, 1234);
        b.putInt(EV_SAMPLE_RATIO, 4);
        b.putInt(EV_AUX, 77);
        b.putShort(EV_FAMILY, (short) 2);
        b.putShort(EV_SPORT, (short) 40000); // above 2^15: must stay unsigned
        b.putShort(EV_DPORT, (short) 8080);
        b.put(EV_KIND, (byte) 1);
        b.put(EV_OLDSTATE, (byte) 1);
        b.put(EV_NEWSTATE, (byte) 4);
        b.put(EV_FLAGS, (byte) 0x09);
        b.put(EV_SADDR, (byte) 127).put(EV_SADDR + 3, (byte) 1);
        b.put(EV_DADDR, (byte) 127).put(EV_DADDR + 3, (byte) 2);
        byte[] comm = "nginx".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < comm.length; i++) b.put(EV_COMM + i, comm[i]);
        return b;
    }

    static Event decoded(ByteBuffer b) {
        Result r = decode(b, 0, EVENT_SIZE, 1_000_000_000L);
        assertNull(r.problem());
        return r.event();
    }

    @Test void timestampAndWallClock() {
        Event e = decoded(event());
        assertEquals(5_000_000_000L, e.tsNs());
        assertEquals(6_000L, e.wallMillis()); // (5e9 + 1e9) ns
    }

    @Test void socketId() { assertEquals(0x1122334455667788L, decoded(event()).sockId()); }

    @Test void timeInPreviousStateAndAge() {
        Event e = decoded(event());
        assertEquals(1_500_000L, e.prevStateNs());
        assertEquals(9_000_000L, e.ageNs());
    }

    @Test void cgroupId() { assertEquals(4242L, decoded(event()).cgroupId()); }

    @Test void netnsIsUnsigned() { assertEquals(0xF0000001L, decoded(event()).netns()); }

    @Test void ownerPidAndComm() {
        Event e = decoded(event());
        assertEquals(1234, e.pid());
        assertEquals("nginx", e.comm());
    }

    @Test void commUsesAll16BytesWithoutNul() {
        ByteBuffer b = event();
        for (int i = 0; i < 16; i++) b.put(EV_COMM + i, (byte) 'a');
        assertEquals("a".repeat(16), decoded(b).comm());
    }

    @Test void sampleRatioAndAux() {
        Event e = decoded(event());
        assertEquals(4, e.sampleRatio());
        assertEquals(77L, e.aux());
    }

    @Test void familyPortsAndIpv4Addresses() throws Exception {
        Event e = decoded(event());
        assertEquals(4, e.family());
        assertEquals(40000, e.localPort());
        assertEquals(8080, e.remotePort());
        assertEquals(InetAddress.getByName("127.0.0.1"), e.local());
        assertEquals(InetAddress.getByName("127.0.0.2"), e.remote());
    }

    @Test void ipv6Addresses() throws Exception {
        ByteBuffer b = event();
        b.putShort(EV_FAMILY, (short) 10);
        for (int i = 0; i < 16; i++) { b.put(EV_SADDR + i, (byte) 0); b.put(EV_DADDR + i, (byte) 0); }
        b.put(EV_SADDR + 15, (byte) 1);
        b.put(EV_DADDR, (byte) 0xfe).put(EV_DADDR + 1, (byte) 0x80).put(EV_DADDR + 15, (byte) 9);
        Event e = decoded(b);
        assertEquals(6, e.family());
        assertEquals(InetAddress.getByName("::1"), e.local());
        assertEquals(InetAddress.getByName("fe80::9"), e.remote());
    }

    @Test void kindStatesAndFlags() {
        Event e = decoded(event());
        assertEquals(Event.Kind.STATE, e.kind());
        assertEquals(TcpState.ESTABLISHED, e.from());
        assertEquals(TcpState.FIN_WAIT1, e.to());
        assertEquals(0x09, e.flags());
        assertFalse(e.enteredTimeWait());
    }

    @Test void timewaitFlag() {
        ByteBuffer b = event();
        b.put(EV_OLDSTATE, (byte) 5).put(EV_NEWSTATE, (byte) 7).put(EV_FLAGS, (byte) 0x02);
        assertTrue(decoded(b).enteredTimeWait());
        b.put(EV_FLAGS, (byte) 0x06);
        assertFalse(decoded(b).enteredTimeWait(), "FIN_WAIT2 substate is not TIME_WAIT yet");
    }

    @Test void unknownStateIsReportedNotThrown() {
        ByteBuffer b = event();
        b.put(EV_NEWSTATE, (byte) 200);
        Result r = decode(b, 0, EVENT_SIZE, 0);
        assertEquals("unknown TCP state number 200", r.problem());
        assertNull(r.event().to());
        assertEquals(200, r.event().toRaw());
    }

    @Test void unknownKindIsReported() {
        ByteBuffer b = event();
        b.put(EV_KIND, (byte) 99);
        Result r = decode(b, 0, EVENT_SIZE, 0);
        assertEquals(Event.Kind.UNKNOWN, r.event().kind());
        assertEquals("unknown event kind 99", r.problem());
    }

    @Test void shortRecordIsReportedNotThrown() {
        ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        Result r = decode(b, 0, 40, 0);
        assertNull(r.event());
        assertEquals("short record: 40 bytes, expected 152", r.problem());
        // a record claiming full length but cut by the buffer's end
        assertNull(decode(b, 0, EVENT_SIZE, 0).event());
    }

    @Test void socketRecordFields() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(SOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SK_SOCK_ID, 99).putLong(SK_INO, 31337).putLong(SK_CGROUP_ID, 7)
                .putLong(SK_STATE_NS, 11).putLong(SK_BORN_NS, 10);
        b.putInt(SK_NETNS, 4026531840L > Integer.MAX_VALUE ? (int) 4026531840L : 0).putInt(SK_PID, 55)
                .putInt(SK_ACK_BACKLOG, 5).putInt(SK_MAX_ACK_BACKLOG, 4).putInt(SK_SYN_QLEN, 3)
                .putInt(SK_DROPS, 10).putInt(SK_UID, 1000).putInt(SK_TIMER_MS, 0);
        b.putShort(SK_FAMILY, (short) 2).putShort(SK_SPORT, (short) 8080).putShort(SK_DPORT, (short) 0);
        b.put(SK_STATE, (byte) 10).put(SK_FLAGS, (byte) 0x04);
        b.put(SK_SADDR, (byte) 10).put(SK_SADDR + 3, (byte) 1);
        b.put(SK_COMM, (byte) 'x');
        SocketRecord r = decodeSock(b, 0);
        assertEquals(4026531840L, r.netns());
        assertEquals(TcpState.LISTEN, r.state());
        assertEquals(InetAddress.getByName("10.0.0.1"), r.local());
        assertEquals(8080, r.localPort());
        assertEquals(99, r.sockId());
        assertEquals(31337, r.inode());
        assertEquals(7, r.cgroupId());
        assertEquals(55, r.pid());
        assertEquals("x", r.comm());
        assertEquals(1000, r.uid());
        assertEquals(5, r.acceptQueue());
        assertEquals(4, r.acceptQueueMax());
        assertEquals(3, r.synQueue());
        assertEquals(10, r.drops());
        assertEquals(11, r.stateSinceNs());
        assertEquals(10, r.bornNs());
        assertFalse(r.timewait());
        assertFalse(r.request());
    }

    @Test void timewaitSocketReportsItsSubstate() {
        ByteBuffer b = ByteBuffer.allocate(SOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(SK_FAMILY, (short) 2).put(SK_STATE, (byte) 5).put(SK_FLAGS, (byte) 0x01);
        SocketRecord r = decodeSock(b, 0);
        assertEquals(TcpState.FIN_WAIT2, r.state());
        assertTrue(r.timewait());
    }
}
