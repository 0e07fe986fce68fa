package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.CloseWaitReport;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.OwnerInfo;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.ops.OpsFiles;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.tcpulse.agent.http.TestSnapshots.NS_A;
import static io.tcpulse.agent.http.TestSnapshots.NS_B;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The exposition promtool would see from awkward hosts: SO_REUSEPORT groups, many workers
 * of one program in CLOSE_WAIT, hostile process names. No duplicate series, bounded
 * label sets, and `promtool check metrics` has nothing to say. (The live scrape is
 * checked in PrometheusLiveKernelTest.)
 */
class PrometheusPromtoolTest {

    static Snapshot awkward() {
        Snapshot base = TestSnapshots.sample();
        OwnerInfo nginx = new OwnerInfo(100, "nginx", "nginx.service", "/system.slice/nginx.service");
        List<ListenerStatus> listeners = List.of(
                // two sockets of one SO_REUSEPORT group, then an ordinary listener
                new ListenerStatus(NS_A, "0.0.0.0", 443, 3, 511, 1, 511, 7, 9, 4, 1, 2, nginx, true, "ok"),
                new ListenerStatus(NS_A, "0.0.0.0", 443, 511, 511, 0, 511, 5, 5, 4, 1, 2, nginx, true, "accept-queue-full"),
                new ListenerStatus(NS_B, "::", 22, 0, 128, 0, 128, 0, 0, 0, 0, 0, OwnerInfo.UNKNOWN, false, "ok"));
        List<CloseWaitReport.ByOwner> owners = new ArrayList<>();
        for (int pid = 1; pid <= 30; pid++) { // 30 programs, and nginx with many workers
            owners.add(new CloseWaitReport.ByOwner(1000 + pid, "app" + pid, "app" + pid + ".service", 31 - pid, pid,
                    0, false, List.of()));
            owners.add(new CloseWaitReport.ByOwner(200 + pid, "nginx", "nginx.service", 2, 600 + pid, 0, true, List.of()));
        }
        owners.add(new CloseWaitReport.ByOwner(7, "evil\"\\\nname", "", 1, 1, 0, false, List.of()));
        return new Snapshot(base.wallMillis(), base.health(), base.states(), base.transitions(), base.latency(),
                base.recent(), base.listeners(), listeners, Map.of(),
                Map.of(NS_A, new CloseWaitReport(owners.stream().mapToLong(CloseWaitReport.ByOwner::count).sum(), owners)),
                Map.of(NS_A, Map.of("ListenOverflows", 12L, "ListenDrops", 14L, "TCPReqQFullDrop", 0L,
                        "TCPTimeWaitOverflow", 3L, "SyncookiesSent", 0L, "TCPReqQFullDoCookies", 0L)),
                Map.of(NS_A, new Snapshot.Resets(5, 6)));
    }

    @Test
    void promtoolHasNothingToSay() throws Exception {
        String text = PrometheusWriter.write(awkward());
        OpsFiles.Result r = OpsFiles.runWithInput(text, "promtool", "check", "metrics");
        assertEquals("", r.output().strip(), "promtool check metrics:\n" + text);
        assertEquals(0, r.exit());
    }

    @Test
    void noSeriesAppearsTwice() {
        Set<String> seen = new HashSet<>();
        for (String line : PrometheusWriter.write(awkward()).split("\n")) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String series = line.substring(0, line.lastIndexOf(' '));
            assertTrue(seen.add(series), "duplicate series " + series);
        }
    }

    @Test
    void reuseportGroupsAreOneSeriesAddingUp() {
        String text = PrometheusWriter.write(awkward());
        String id = "{netns=\"" + NS_A + "\",addr=\"0.0.0.0\",port=\"443\"}";
        assertTrue(text.contains("tcpulse_listen_accept_queue" + id + " 514\n"), text);
        assertTrue(text.contains("tcpulse_listen_accept_queue_max" + id + " 1022\n"), text);
        assertTrue(text.contains("tcpulse_listen_overflows_total" + id + " 12\n"), text);
        assertTrue(text.contains("tcpulse_listen_synack_retransmits_total" + id + " 4\n"), "per port, not summed");
    }

    @Test
    void closeWaitOwnersAreFoldedByNameAndCappedWithAnOtherBucket() {
        String text = PrometheusWriter.write(awkward());
        List<String> series = text.lines().filter(l -> l.startsWith("tcpulse_closewait_sockets{")).toList();
        assertEquals(PrometheusWriter.CLOSEWAIT_TOP + 1, series.size(), String.join("\n", series));
        assertEquals("tcpulse_closewait_sockets{netns=\"" + NS_A + "\",comm=\"nginx\",unit=\"nginx.service\"} 60",
                series.get(0), "30 workers x 2 sockets, one series");
        String other = series.get(series.size() - 1);
        assertTrue(other.startsWith("tcpulse_closewait_sockets{netns=\"" + NS_A + "\",comm=\"other\",unit=\"other\"} "), other);
        long total = series.stream().mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
        assertEquals(60 + 465 + 1, total, "nothing is lost in the fold");
        assertTrue(text.contains("tcpulse_closewait_oldest_age_seconds{netns=\"" + NS_A
                + "\",comm=\"nginx\",unit=\"nginx.service\"} 630.0"), text);
    }
}
