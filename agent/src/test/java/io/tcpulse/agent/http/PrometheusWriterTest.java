package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Histogram;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static io.tcpulse.agent.http.TestSnapshots.NS_A;
import static org.junit.jupiter.api.Assertions.*;

class PrometheusWriterTest {
    private final String text = PrometheusWriter.write(TestSnapshots.sample());
    private final List<String> lines = Arrays.asList(text.split("\n"));

    @Test
    void socketsGaugeListsEveryStatePerNamespaceInOrder() {
        String expected = """
                # HELP tcpulse_sockets TCP sockets by state in each network namespace.
                # TYPE tcpulse_sockets gauge
                tcpulse_sockets{netns="4026531840",state="established"} 3
                tcpulse_sockets{netns="4026531840",state="syn_sent"} 0
                tcpulse_sockets{netns="4026531840",state="syn_recv"} 0
                tcpulse_sockets{netns="4026531840",state="fin_wait1"} 0
                tcpulse_sockets{netns="4026531840",state="fin_wait2"} 0
                tcpulse_sockets{netns="4026531840",state="time_wait"} 2
                tcpulse_sockets{netns="4026531840",state="close_wait"} 0
                tcpulse_sockets{netns="4026531840",state="last_ack"} 0
                tcpulse_sockets{netns="4026531840",state="listen"} 1
                tcpulse_sockets{netns="4026531840",state="closing"} 0
                tcpulse_sockets{netns="4026531840",state="new_syn_recv"} 0
                tcpulse_sockets{netns="4026532999",state="established"} 1
                """;
        assertTrue(text.startsWith(expected), text);
        assertEquals(22, lines.stream().filter(l -> l.startsWith("tcpulse_sockets{")).count());
    }

    @Test
    void transitionsKeepDerivedTimewaitEntriesApart() {
        assertSection("tcpulse_state_transitions_total", "counter", """
                tcpulse_state_transitions_total{netns="4026531840",from="established",to="close_wait"} 9
                tcpulse_state_transitions_total{netns="4026531840",from="syn_sent",to="established"} 5
                tcpulse_state_transitions_total{netns="4026532999",from="syn_sent",to="established"} 2
                """);
        assertSection("tcpulse_timewait_entries_total", "counter", """
                tcpulse_timewait_entries_total{netns="4026531840",substate="fin_wait2"} 1
                tcpulse_timewait_entries_total{netns="4026531840",substate="time_wait"} 4
                """);
    }

    @Test
    void probeCountersComeFromHealth() {
        assertSection("tcpulse_probe_up", "gauge", "tcpulse_probe_up 1\n");
        assertSection("tcpulse_probe_events_total", "counter", "tcpulse_probe_events_total 1000\n");
        assertSection("tcpulse_probe_events_lost_total", "counter", "tcpulse_probe_events_lost_total 3\n");
        assertSection("tcpulse_probe_events_sampled_out_total", "counter", "tcpulse_probe_events_sampled_out_total 7\n");
        assertSection("tcpulse_probe_map_full_total", "counter", "tcpulse_probe_map_full_total 1\n");
        assertSection("tcpulse_probe_decode_errors_total", "counter", "tcpulse_probe_decode_errors_total 2\n");
        assertSection("tcpulse_probe_remembered_sockets", "gauge", "tcpulse_probe_remembered_sockets 17\n");
    }

    @Test
    void mapFullIsSplitByMap() {
        var s = TestSnapshots.sample();
        var h = s.health();
        var split = new io.tcpulse.agent.aggregate.Health(h.probeAvailable(), h.cause(), h.mode(), h.seen(),
                h.consumed(), h.lost(), h.sampledOut(), 7, h.decodeErrors(), h.samplingRatio(), h.lastWalkMillis(),
                h.lastWalkMicros(), h.walkedSockets(), h.rememberedSockets(), h.startedMillis(), h.features(), h.errors(),
                h.outage(), h.holders(), new java.util.LinkedHashMap<>(java.util.Map.of("transitions", 0L, "port_counters", 5L,
                "listen_owners", 2L, "sk_infos", 0L)), null, 0, null, 0,
                new io.tcpulse.agent.aggregate.Health.Wakeups(3, 11));
        String out = PrometheusWriter.write(s.withHealth(TestSnapshots.WALL, split));
        assertTrue(out.contains("tcpulse_probe_wakeups_total{cause=\"backlog\"} 3\n"), out);
        assertTrue(out.contains("tcpulse_probe_wakeups_total{cause=\"first_event\"} 11\n"), out);
        assertTrue(out.contains("tcpulse_probe_map_full_total 7\n"), out);
        assertTrue(out.contains("tcpulse_probe_map_full_by_map_total{map=\"port_counters\"} 5\n"), out);
        assertTrue(out.contains("tcpulse_probe_map_full_by_map_total{map=\"listen_owners\"} 2\n"), out);
        assertEquals(4, out.lines().filter(l -> l.startsWith("tcpulse_probe_map_full_by_map_total{")).count());
    }

    @Test
    void walksAndTheirDrift() {
        var s = TestSnapshots.sample();
        var drifted = s.health().withWalks(9,
                new io.tcpulse.agent.aggregate.Health.Drift(5, 2, java.util.Map.of("ESTABLISHED", 2L, "LISTEN", 0L), 3, 40_000));
        String out = PrometheusWriter.write(s.withHealth(TestSnapshots.WALL, drifted));
        assertTrue(out.contains("\ntcpulse_walk_seconds 0.001234\n"), out);
        assertTrue(out.contains("\ntcpulse_walks_skipped_total 9\n"), out);
        assertTrue(out.contains("\ntcpulse_walk_drift_checks_total 5\n"), out);
        assertTrue(out.contains("\ntcpulse_walk_unsettled_total 3\n"), out);
        assertTrue(out.contains("\ntcpulse_walk_drift_sockets_total{state=\"established\"} 2\n"), out);
        assertTrue(out.contains("\ntcpulse_walk_drift_sockets_total{state=\"listen\"} 0\n"), out);
    }

    @Test
    void programsCostAndLostStateChanges() {
        var s = TestSnapshots.sample();
        var costs = java.util.List.of(
                new io.tcpulse.agent.model.ProgramCost("on_state_change", "stateChanges", 1000, 300_000, 12),
                new io.tcpulse.agent.model.ProgramCost("on_state_change_nested", "nestedStateChanges", 1012, 40_000, 0));
        String off = PrometheusWriter.write(s.withHealth(TestSnapshots.WALL,
                s.health().withPrograms(new io.tcpulse.agent.aggregate.Health.Programs("off", costs, 0))));
        assertTrue(off.contains("\ntcpulse_probe_state_changes_lost_total 0\n"), off);
        assertTrue(off.contains("tcpulse_probe_recursion_misses_total{program=\"on_state_change\"} 12\n"), off);
        assertFalse(off.contains("tcpulse_probe_run_seconds_total"), "no run time where the kernel does not count it: a false 0");
        String on = PrometheusWriter.write(s.withHealth(TestSnapshots.WALL,
                s.health().withPrograms(new io.tcpulse.agent.aggregate.Health.Programs("on", costs, 3))));
        assertTrue(on.contains("\ntcpulse_probe_state_changes_lost_total 3\n"), on);
        assertTrue(on.contains("tcpulse_probe_runs_total{program=\"on_state_change_nested\"} 1012\n"), on);
        assertTrue(on.contains("tcpulse_probe_run_seconds_total{program=\"on_state_change\"} 3.0E-4\n"), on);
    }

    @Test
    void probeStepFailuresAndTheOutage() {
        assertSection("tcpulse_probe_errors_total", "counter",
                "tcpulse_probe_errors_total{step=\"walk\",errno=\"EMFILE\"} 4\n");
        assertSection("tcpulse_probe_outage_seconds", "gauge", "tcpulse_probe_outage_seconds 0.0\n");
        var s = TestSnapshots.sample();
        var h = s.health();
        var failing = new io.tcpulse.agent.aggregate.Health(h.probeAvailable(), "collection failing", h.mode(), h.seen(),
                h.consumed(), h.lost(), h.sampledOut(), h.mapFull(), h.decodeErrors(), h.samplingRatio(), h.lastWalkMillis(),
                h.lastWalkMicros(), h.walkedSockets(), h.rememberedSockets(), h.startedMillis(), h.features(), h.errors(),
                new io.tcpulse.agent.model.ProbeOutage("walk", "EMFILE", TestSnapshots.WALL - 12_500, "/proc: Too many open files", 0));
        assertEquals("degraded", failing.status());
        String out = PrometheusWriter.write(s.withHealth(TestSnapshots.WALL, failing));
        assertTrue(out.contains("\ntcpulse_probe_outage_seconds 12.5\n"), out);
    }

    @Test
    void histogramBucketsAreCumulative() {
        String client = "tcpulse_handshake_latency_seconds_bucket{netns=\"" + NS_A + "\",side=\"client\",le=\"";
        assertTrue(lines.contains(client + "0.000001\"} 0"));
        assertTrue(lines.contains(client + "0.131072\"} 0"));
        assertTrue(lines.contains(client + "0.262144\"} 1"));
        assertTrue(lines.contains(client + "0.524288\"} 2"));
        assertTrue(lines.contains(client + "34359.738368\"} 2"));
        assertTrue(lines.contains(client + "+Inf\"} 2"));
        assertTrue(lines.contains("tcpulse_handshake_latency_seconds_sum{netns=\"" + NS_A + "\",side=\"client\"} 0.75"));
        assertTrue(lines.contains("tcpulse_handshake_latency_seconds_count{netns=\"" + NS_A + "\",side=\"client\"} 2"));
        assertEquals(Histogram.BUCKETS + 1L, lines.stream().filter(l -> l.startsWith(client)).count());

        // a value above the top bound shows only in +Inf
        String lifetime = "tcpulse_connection_lifetime_seconds_bucket{netns=\"" + NS_A + "\",le=\"";
        assertTrue(lines.contains(lifetime + "34359.738368\"} 0"));
        assertTrue(lines.contains(lifetime + "+Inf\"} 1"));
        assertTrue(lines.contains("tcpulse_connection_lifetime_seconds_count{netns=\"" + NS_A + "\"} 1"));
    }

    @Test
    void bucketCountsNeverDecrease() {
        long previous = -1;
        for (String l : lines) {
            if (!l.startsWith("tcpulse_handshake_latency_seconds_bucket{netns=\"" + NS_A + "\",side=\"client\"")) continue;
            long n = Long.parseLong(l.substring(l.lastIndexOf(' ') + 1));
            assertTrue(n >= previous, l);
            previous = n;
        }
    }

    @Test
    void everyLineIsWellFormedAndEveryFamilyDeclaredOnce() {
        Pattern sample = Pattern.compile(
                "[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*})? \\S+");
        for (String l : lines) {
            if (l.startsWith("# HELP ") || l.startsWith("# TYPE ")) continue;
            assertTrue(sample.matcher(l).matches(), l);
        }
        List<String> types = lines.stream().filter(l -> l.startsWith("# TYPE ")).collect(Collectors.toList());
        assertEquals(types.size(), types.stream().map(l -> l.split(" ")[2]).distinct().count());
        assertEquals(types.size(), lines.stream().filter(l -> l.startsWith("# HELP ")).count());
        assertTrue(text.endsWith("\n"));
    }

    @Test
    void labelValuesAreEscaped() {
        assertEquals("a\\\\b\\\"c\\nd", PrometheusWriter.escapeLabelValue("a\\b\"c\nd"));
        assertEquals("x\\\\y\\nz \"q\"", PrometheusWriter.escapeHelp("x\\y\nz \"q\""));
    }

    @Test
    void specialFloats() {
        assertEquals("NaN", PrometheusWriter.formatDouble(Double.NaN));
        assertEquals("+Inf", PrometheusWriter.formatDouble(Double.POSITIVE_INFINITY));
        assertEquals("0.75", PrometheusWriter.formatDouble(0.75));
    }

    /** HELP, TYPE, then exactly these samples, up to the next family. */
    private void assertSection(String name, String type, String samples) {
        int start = text.indexOf("# HELP " + name + " ");
        assertTrue(start >= 0, "no family " + name);
        int typeLine = text.indexOf('\n', start) + 1;
        assertTrue(text.startsWith("# TYPE " + name + " " + type + "\n", typeLine), name);
        int body = text.indexOf('\n', typeLine) + 1;
        int end = text.indexOf("# HELP ", body);
        assertEquals(samples, text.substring(body, end < 0 ? text.length() : end));
    }
}
