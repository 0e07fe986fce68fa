package io.tcpulse.agent.probe;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The agent's decoders against the layout libtcpulse's compiler chose (native/tcpulse.h). */
class NativeContractTest {

    @Test
    void theBuiltLibraryLaysOutEverythingAsTheAgentDecodesIt() {
        assumeTrue(TcpulseNative.loadFailure() == null, "libtcpulse not built");
        Map<String, Long> library = NativeContract.ofLibrary();
        assertEquals(List.of(), NativeContract.differences(NativeContract.expected(), library));
        assertNull(Probe.contractMismatch());
        // every struct the agent decodes, with its size
        for (String s : List.of("tcpulse_event", "tcpulse_sock", "tcpulse_holder", "tcpulse_transition", "tcpulse_port_count",
                "tcpulse_prog_stat")) {
            assertTrue(library.containsKey(s), s + " in " + library.keySet());
        }
        assertEquals(152L, library.get("tcpulse_event"));
        assertEquals(104L, library.get("tcpulse_event.comm"));
    }

    @Test
    void aFieldThatMovedOrWentIsNamedWithBothFigures() {
        Map<String, Long> library = new LinkedHashMap<>(NativeContract.expected());
        library.put("tcpulse_event.comm", 96L);
        library.remove("TCPULSE_STAT_TWIN_HANDLED");
        library.put("tcpulse_event.extra", 120L); // what the agent does not read is no difference
        assertEquals(List.of("tcpulse_event.comm: library 96, agent 104",
                        "TCPULSE_STAT_TWIN_HANDLED: missing from the library (agent 7)"),
                NativeContract.differences(NativeContract.expected(), library));
    }

    @Test
    void theLayoutTextIsParsedLineByLine() {
        assertEquals(Map.of("tcpulse_event", 120L, "TCPULSE_EV_STATE", 1L),
                NativeContract.parse("tcpulse_event 120\nTCPULSE_EV_STATE 1\nnot a figure\n\n"));
    }
}
