package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.testing.Wait;
import io.tcpulse.agent.ops.FleetExamplesTest;
import io.tcpulse.agent.ops.OpsFiles;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * /metrics of a real agent watching real sockets, judged by promtool (names, units,
 * HELP/TYPE, counters ending in _total), and every metric the fleet examples use present.
 */
@KernelTest
class PrometheusLiveKernelTest {
    private static final Pattern HELP = Pattern.compile("(?m)^# HELP (\\S+) ");

    @Test
    @AgentOptions({"--walk-interval-ms", "500"})
    void liveScrapePassesPromtoolAndCarriesWhatTheExamplesUse(Netns ns, Main.Agent agent) throws Exception {
        // listeners, TIME_WAIT, CLOSE_WAIT and RSTs, so the labelled families have series
        StartupKernelTest.prepare(ns);
        ns.exec(stormTool(), "connect", "--port", "8103", "--count", "3", "--close", "rst");
        Wait.until(Duration.ofSeconds(10), () -> scrape(agent),
                m -> m.contains("tcpulse_listen_accept_queue{netns=\"" + inode(ns)),
                last -> "the namespace's listeners never reached /metrics:\n" + last);

        String metrics = scrape(agent);
        OpsFiles.Result r = OpsFiles.runWithInput(metrics, "promtool", "check", "metrics");
        assertEquals("", r.output().strip(), "promtool check metrics found problems");
        assertEquals(0, r.exit());

        Set<String> families = new TreeSet<>();
        Matcher m = HELP.matcher(metrics);
        while (m.find()) families.add(m.group(1));
        Set<String> missing = new TreeSet<>();
        for (String used : FleetExamplesTest.exampleMetrics()) {
            String family = used.replaceAll("_(bucket|count|sum)$", "");
            if (!families.contains(used) && !families.contains(family)) missing.add(used);
        }
        assertEquals(Set.of(), missing, "metrics named in examples/ but absent from a live scrape; families: " + families);
    }

    private static long inode(Netns ns) {
        try {
            return ns.inode();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String scrape(Main.Agent agent) {
        try {
            HttpResponse<String> r = get(agent.port(), "/metrics");
            assertEquals(200, r.statusCode());
            return r.body();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
