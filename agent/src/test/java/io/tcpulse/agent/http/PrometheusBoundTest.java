package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.ops.OpsFiles;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.tcpulse.agent.http.TestSnapshots.NS_A;
import static io.tcpulse.agent.http.TestSnapshots.NS_B;
import static org.junit.jupiter.api.Assertions.*;

/** Issue 11: 20,000 listeners make a bounded scrape whose aggregate adds up exactly. */
class PrometheusBoundTest {

    /** 20,000 idle listeners in NS_A (ports 10000..29999), three busy ones, one in NS_B. */
    static Snapshot many() {
        Snapshot base = TestSnapshots.sample();
        List<ListenerStatus> ls = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            ls.add(new ListenerStatus(NS_A, "127.0.0.1", 10_000 + i, 0, 128, 0, 128, i % 3, 0, 0, 0, 0,
                    OwnerInfo.UNKNOWN, true, "ok"));
        }
        ls.add(new ListenerStatus(NS_A, "0.0.0.0", 80, 5, 128, 1, 128, 900, 901, 3, 0, 0, OwnerInfo.UNKNOWN, true, "ok"));
        ls.add(new ListenerStatus(NS_A, "0.0.0.0", 81, 129, 128, 0, 128, 0, 0, 0, 0, 0, OwnerInfo.UNKNOWN, true,
                ListenerStatus.VERDICT_ACCEPT_QUEUE_FULL));
        ls.add(new ListenerStatus(NS_B, "::", 22, 0, 128, 0, 128, 0, 0, 0, 0, 0, OwnerInfo.UNKNOWN, false, "ok"));
        return new Snapshot(base.wallMillis(), base.health(), base.states(), base.transitions(), base.latency(),
                base.recent(), base.listeners(), ls, base.timewait(), base.closewait(), base.netstat(), base.resets());
    }

    private static long samples(String text) {
        return text.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).count();
    }

    private static long sum(String text, String family, String netns) {
        return text.lines().filter(l -> l.startsWith(family + "{netns=\"" + netns + "\""))
                .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void defaultBoundKeepsTheScrapeUnderFiveThousandSamples() {
        String text = PrometheusWriter.write(many());
        long n = samples(text);
        // 7 families x (500 kept + one "other" for each namespace) + the rest of the snapshot
        assertTrue(n < 5_000, n + " samples");
        assertEquals(7 * 502, text.lines().filter(l -> l.startsWith("tcpulse_listen_") && !l.startsWith("tcpulse_listen_other")).count());
        assertTrue(text.contains("tcpulse_listen_other_listeners{netns=\"" + NS_A + "\"} 19502\n"), text);
        // the idle listener of NS_B ranks below the idle ones of NS_A: summed into its own namespace's series
        assertTrue(text.contains("tcpulse_listen_other_listeners{netns=\"" + NS_B + "\"} 1\n"), text);
    }

    @Test
    void theMostActiveAreKeptAndTheAggregateEqualsTheSumItReplaces() {
        Snapshot s = many();
        String all = PrometheusWriter.write(s, 1_000_000);
        String bounded = PrometheusWriter.write(s, 10);
        for (String f : List.of("tcpulse_listen_accept_queue", "tcpulse_listen_accept_queue_max", "tcpulse_listen_syn_queue",
                "tcpulse_listen_syn_queue_max", "tcpulse_listen_overflows_total", "tcpulse_listen_drops_total",
                "tcpulse_listen_synack_retransmits_total")) {
            assertEquals(sum(all, f + "", Long.toString(NS_A)), sum(bounded, f, Long.toString(NS_A)), f);
            assertEquals(sum(all, f, Long.toString(NS_B)), sum(bounded, f, Long.toString(NS_B)), f);
        }
        // sum of i % 3 over 0..19,999 is 6,666 x 3 + 1, and port 80's 900
        assertEquals(20_899, sum(bounded, "tcpulse_listen_overflows_total", Long.toString(NS_A)));
        // the full queue and the overflowing port come first
        String id81 = "{netns=\"" + NS_A + "\",addr=\"0.0.0.0\",port=\"81\"}";
        String id80 = "{netns=\"" + NS_A + "\",addr=\"0.0.0.0\",port=\"80\"}";
        assertTrue(bounded.contains("tcpulse_listen_accept_queue" + id81 + " 129\n"), bounded);
        assertTrue(bounded.contains("tcpulse_listen_overflows_total" + id80 + " 900\n"), bounded);
        String other = "{netns=\"" + NS_A + "\",addr=\"other\",port=\"other\"}";
        assertTrue(bounded.contains("tcpulse_listen_accept_queue_max" + other + " " + (128L * (20_002 - 10)) + "\n"), bounded);
        assertTrue(bounded.contains("tcpulse_listen_other_listeners{netns=\"" + NS_A + "\"} 19992\n"), bounded);
    }

    @Test
    void boundedScrapeIsPromtoolClean() throws Exception {
        String text = PrometheusWriter.write(many(), 10);
        OpsFiles.Result r = OpsFiles.runWithInput(text, "promtool", "check", "metrics");
        assertEquals("", r.output().strip());
        assertEquals(0, r.exit());
    }

    @Test
    void scrapeOfTwentyThousandListenersIsFast() {
        Snapshot s = many();
        PrometheusWriter.write(s); // warm up
        long t0 = System.nanoTime();
        PrometheusWriter.write(s);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 1000, ms + " ms");
    }

    @Test
    void nothingIsFoldedUnderTheBound() {
        String text = PrometheusWriter.write(many(), 1_000_000);
        assertFalse(text.contains("addr=\"other\",port=\"other\"}"));
        assertEquals(7L * 20_003, text.lines().filter(l -> l.startsWith("tcpulse_listen_") && !l.startsWith("tcpulse_listen_other")
                && !l.startsWith("#")).count());
    }

    /** The sample's namespaces and 2,000 more, each with sockets, transitions, a listener, RSTs and TcpExt counters. */
    static Snapshot manyNamespaces() {
        Snapshot base = TestSnapshots.sample();
        var states = new java.util.HashMap<>(base.states());
        var transitions = new ArrayList<>(base.transitions());
        var listeners = new ArrayList<>(base.listenerStatus());
        var resets = new java.util.HashMap<>(base.resets());
        var netstat = new java.util.HashMap<>(base.netstat());
        for (long i = 0; i < 2_000; i++) {
            long ns = 4_026_600_000L + i;
            var counts = new java.util.EnumMap<io.tcpulse.agent.model.TcpState, Long>(io.tcpulse.agent.model.TcpState.class);
            for (var st : io.tcpulse.agent.model.TcpState.COUNTED) counts.put(st, 0L);
            counts.put(io.tcpulse.agent.model.TcpState.ESTABLISHED, i % 7 + 1);
            states.put(ns, counts);
            transitions.add(new io.tcpulse.agent.model.TransitionCount(ns, io.tcpulse.agent.model.TcpState.SYN_SENT,
                    io.tcpulse.agent.model.TcpState.ESTABLISHED, false, i));
            listeners.add(new ListenerStatus(ns, "0.0.0.0", 8080, 1, 128, 0, 128, i % 2, 0, 0, 0, 0, OwnerInfo.UNKNOWN, true, "ok"));
            resets.put(ns, new Snapshot.Resets(i % 3, 1));
            netstat.put(ns, java.util.Map.of("ListenOverflows", i % 2));
        }
        return new Snapshot(base.wallMillis(), base.health(), states, transitions, base.latency(), base.recent(),
                base.listeners(), listeners, base.timewait(), base.closewait(), netstat, resets);
    }

    private static long sumAll(String text, String family, String filter) {
        return text.lines().filter(l -> l.startsWith(family + "{") && l.contains(filter))
                .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void namespacesPastTheBoundAreOneOtherSeriesAndEverySumStaysExact() throws Exception {
        Snapshot s = manyNamespaces();
        String all = PrometheusWriter.write(s, List.of(), 1_000_000, 1_000_000);
        String bounded = PrometheusWriter.write(s, List.of(), 1_000_000, 100);
        java.util.Set<String> labels = new java.util.TreeSet<>();
        var m = java.util.regex.Pattern.compile("netns=\"([^\"]*)\"").matcher(bounded);
        while (m.find()) labels.add(m.group(1));
        assertEquals(101, labels.size(), "100 namespaces and \"other\"");
        assertTrue(labels.contains("other"));
        assertTrue(bounded.contains("\ntcpulse_metrics_other_namespaces 1902\n"), "2,002 namespaces, 100 kept");
        assertTrue(all.contains("\ntcpulse_metrics_other_namespaces 0\n"));
        for (String[] f : new String[][] {{"tcpulse_sockets", "state=\"established\""}, {"tcpulse_state_transitions_total", ""},
                {"tcpulse_listen_accept_queue", ""}, {"tcpulse_listen_overflows_total", ""}, {"tcpulse_resets_total", "sent"},
                {"tcpulse_tcpext_listen_overflows_total", ""}}) {
            assertEquals(sumAll(all, f[0], f[1]), sumAll(bounded, f[0], f[1]), f[0]);
        }
        assertTrue(samples(bounded) < samples(all) / 10, samples(bounded) + " of " + samples(all));
        assertFalse(bounded.contains("tcpulse_syncookies_enabled{netns=\"other\"}"), "a flag of many namespaces is no figure");
        OpsFiles.Result r = OpsFiles.runWithInput(bounded, "promtool", "check", "metrics");
        assertEquals("", r.output().strip());
    }
}
