package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Holder;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static io.tcpulse.agent.probe.HolderDecoder.*;
import static org.junit.jupiter.api.Assertions.*;

/** Records written by hand at the offsets of struct tcpulse_holder (native/tcpulse.h). */
class HolderDecoderTest {

    static void put(ByteBuffer b, int i, int kind, long ino, int pid, int fd, long netns, long cookie, String comm) {
        int at = i * SIZE;
        b.putLong(at + SOCK_ID, 99);
        b.putLong(at + INO, ino);
        b.putLong(at + CGROUP_ID, 4242);
        b.putLong(at + NETNS_COOKIE, cookie);
        b.putInt(at + TGID, pid);
        b.putInt(at + FD, fd);
        b.putInt(at + NETNS, (int) netns);
        b.putShort(at + FAMILY, (short) 10);
        b.putShort(at + SPORT, (short) 40000);
        b.putShort(at + DPORT, (short) 8080);
        b.put(at + KIND, (byte) kind);
        b.put(at + STATE, (byte) 8);
        byte[] c = comm.getBytes(StandardCharsets.UTF_8);
        for (int k = 0; k < Math.min(16, c.length); k++) b.put(at + COMM + k, c[k]);
    }

    static ByteBuffer buf(int n) {
        return ByteBuffer.allocate(n * SIZE).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test void socketHolderFields() {
        ByteBuffer b = buf(1);
        put(b, 0, KIND_SOCKET, 123456789012L, 4321, 7, 0xF0000001L, 55, "nginx");
        Walk w = decode(b, 1);
        assertEquals(List.of(new Holder(4321, "nginx", 7, 4242)), w.byInode().get(123456789012L));
        assertEquals(Map.of(0xF0000001L, 55L), w.namespaces()); // the inode stays unsigned
        assertEquals(1, w.records());
    }

    @Test void severalProcessesOneSocketInPidOrderOneEntryPerProcess() {
        ByteBuffer b = buf(4);
        put(b, 0, KIND_SOCKET, 10, 300, 5, 1, 0, "worker");
        put(b, 1, KIND_SOCKET, 10, 200, 9, 1, 0, "master");
        put(b, 2, KIND_SOCKET, 10, 200, 3, 1, 0, "master"); // dup()ed: the lowest fd stands
        put(b, 3, KIND_SOCKET, 11, 300, 6, 1, 0, "worker");
        Walk w = decode(b, 4);
        assertEquals(List.of(new Holder(200, "master", 3, 4242), new Holder(300, "worker", 5, 4242)), w.byInode().get(10L));
        assertEquals(1, w.byInode().get(11L).size());
    }

    @Test void namespacesFromTasksAndFilesNotSockets() {
        ByteBuffer b = buf(3);
        put(b, 0, KIND_NETNS_TASK, 0, 1, 0, 4026531840L, 1, "init");
        put(b, 1, KIND_NETNS_FILE, 4026532999L, 77, 3, 4026532999L, 9, "holder");
        put(b, 2, KIND_NETNS_TASK, 0, 2, 0, 4026531840L, 1, "kthreadd");
        Walk w = decode(b, 3);
        assertEquals(Map.of(4026531840L, 1L, 4026532999L, 9L), w.namespaces());
        assertTrue(w.byInode().isEmpty());
    }

    @Test void fullSixteenByteNameAndUnknownKind() {
        ByteBuffer b = buf(2);
        put(b, 0, KIND_SOCKET, 5, 1, 1, 1, 0, "abcdefghijklmnop");
        put(b, 1, 200, 6, 1, 1, 2, 0, "x");
        Walk w = decode(b, 2);
        assertEquals("abcdefghijklmnop", w.byInode().get(5L).get(0).comm());
        assertNull(w.byInode().get(6L));
        assertFalse(w.namespaces().containsKey(2L));
    }
}
