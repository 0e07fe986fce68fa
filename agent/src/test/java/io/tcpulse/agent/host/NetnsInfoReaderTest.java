package io.tcpulse.agent.host;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** sockstat as the kernel writes it: what a walk of the namespace is sized by. */
class NetnsInfoReaderTest {
    static final String SOCKSTAT = """
            sockets: used 100133
            TCP: inuse 100007 orphan 2 tw 345 alloc 100010 mem 12
            UDP: inuse 3 mem 2
            """;

    @Test
    void socketsAreThoseInUseAndInTimewait() {
        assertEquals(100_352, NetnsInfoReader.sockets(SOCKSTAT));
        assertEquals(2, NetnsInfoReader.orphans(SOCKSTAT));
        assertEquals(-1, NetnsInfoReader.sockets(null));
        assertEquals(-1, NetnsInfoReader.sockets("TCP: orphan 0 tw 3\n"), "no inuse: unknown, not 3");
        assertEquals(5, NetnsInfoReader.sockets("TCP: inuse 5 orphan 0 alloc 5 mem 0\n"), "no tw field");
    }

    @Test
    void readAndReadCountersCarryTheCount() {
        Map<String, String> files = Map.of("/proc/thread-self/net/sockstat", SOCKSTAT);
        assertEquals(100_352, NetnsInfoReader.read(files::get).sockets());
        assertEquals(100_352, NetnsInfoReader.readCounters(files::get).sockets());
        assertEquals(-1, NetnsInfoReader.read(p -> null).sockets());
    }
}
