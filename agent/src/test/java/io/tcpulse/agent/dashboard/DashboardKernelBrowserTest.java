package io.tcpulse.agent.dashboard;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.kernel.Agents;
import io.tcpulse.agent.kernel.KernelTest;
import io.tcpulse.agent.kernel.Netns;
import io.tcpulse.agent.model.TcpState;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static io.tcpulse.agent.dashboard.KernelFixture.*;
import static io.tcpulse.agent.kernel.KernelTestSupport.peersOf;
import static io.tcpulse.agent.kernel.KernelTestSupport.statesOf;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The dashboard in headless Chromium against a real agent on the real kernel, with
 * traffic in a network namespace of the test's own: the page shows what the API says,
 * overflows reach the listener row, the destinations view shows the connects the API
 * counts for the test's own clients, process names stay text, and the page survives
 * the agent restarting. Each test saves screenshots under target/screenshots/.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@KernelTest
@BrowserTest
class DashboardKernelBrowserTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String[] OPTIONS = {"--walk-interval-ms", "500"};
    private static Agents agents;
    private static Main.Agent agent;
    private final Browser browser;

    DashboardKernelBrowserTest(Browser browser) {
        this.browser = browser;
    }

    /** Agents of the class: the restart test starts the second on the first one's port. */
    @BeforeAll
    static void start(Agents classAgents) throws Exception {
        agents = classAgents;
        agent = agents.start(OPTIONS);
    }

    private String url() {
        return "http://127.0.0.1:" + agent.port() + "/";
    }

    private boolean live() {
        return "open".equals(browser.js("return document.getElementById('conn').dataset.state"));
    }

    /** Picks the namespace in the page's selector, as a person would. */
    private void selectNetns(long inode) {
        browser.await(WAIT, () -> !browser.all("#netns option[value='" + inode + "']").isEmpty(),
                () -> "the selector never offered netns " + inode, "kernel-netns");
        new Select(browser.byId("netns")).selectByValue(String.valueOf(inode));
    }

    /** The tiles' counts (count-STATE) as numbers. */
    private Map<String, Long> pageCounts() {
        Map<String, Long> out = new TreeMap<>();
        for (TcpState s : TcpState.COUNTED) {
            String t = browser.text("count-" + s.name());
            out.put(s.name(), t == null || t.equals("–") ? -1 : Long.parseLong(t.replace(",", "")));
        }
        return out;
    }

    private static Map<String, Long> apiCounts(int port, long inode) {
        try {
            JsonObject states = getJson(port, "/api/v1/states?netns=" + inode).getJsonObject("states");
            Map<String, Long> out = new TreeMap<>();
            for (TcpState s : TcpState.COUNTED) out.put(s.name(), states.getLong(s.name()));
            return out;
        } catch (IOException e) {
            return Map.of("error", -1L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Map.of("interrupted", -1L);
        }
    }

    /**
     * Waits until the page's counts equal /api/v1/states for the namespace and include the
     * expected ones (traffic may still be settling when the two first agree).
     */
    private void awaitCountsMatchApi(long inode, Map<String, Long> expected, String shot) {
        browser.await(WAIT, () -> {
            Map<String, Long> page = pageCounts();
            return page.entrySet().containsAll(expected.entrySet()) && page.equals(apiCounts(agent.port(), inode));
        }, () -> "page " + pageCounts() + " vs /api/v1/states?netns=" + inode + " " + apiCounts(agent.port(), inode)
                + ", expected among them " + expected, shot);
    }

    @Test
    @Order(1)
    void stateCountsEqualTheApiForTheSelectedNamespace(Netns ns) throws Exception {
        long inode = ns.inode();
        String storm = stormTool();
        ns.serve("--port", "8101");                  // closes after the client: TIME_WAIT on the client
        ns.serve("--port", "8102", "--never-close"); // CLOSE_WAIT on the server
        ns.serve("--port", "8103", "--hold");        // stays ESTABLISHED
        ns.exec(storm, "connect", "--port", "8101", "--count", "30", "--close", "client");
        ns.exec(storm, "connect", "--port", "8102", "--count", "10", "--close", "client");
        ns.spawn(storm, "connect", "--port", "8103", "--count", "5", "--close", "none");

        browser.get(url());
        browser.await(WAIT, this::live, () -> "the stream never opened", "kernel-counts");
        selectNetns(inode);
        Map<String, Long> ss = ns.settledSs(WAIT, "LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT");
        assertEquals(3L, ss.get("LISTEN"));
        assertEquals(10L, ss.get("ESTABLISHED")); // 5 held, both ends
        assertEquals(10L, ss.get("CLOSE_WAIT"));
        awaitCountsMatchApi(inode, ss, "kernel-counts");
        Map<String, Long> page = pageCounts();
        // the state machine shows the same numbers
        for (String s : new String[]{"ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "LISTEN"}) {
            assertEquals(String.valueOf(page.get(s)), browser.text("sm-count-" + s), s);
        }
        // the charts are fed from the agent's history of this namespace
        browser.await(WAIT, () -> browser.all("#chart-states .uplot").size() == 1
                        && "".equals(browser.text("history-status")),
                () -> "no history chart: " + browser.text("history-status"), "kernel-counts");
        assertTrue(browser.js("return location.search").toString().contains("netns=" + inode));
        browser.screenshot("kernel-state-counts");

        // the destinations the test's clients connected to: the connects and live sockets the API counts
        browser.click("a[data-testid='nav-destinations']");
        Map<String, Long> connects = Map.of("127.0.0.1:8101", 30L, "127.0.0.1:8102", 10L, "127.0.0.1:8103", 5L);
        browser.await(WAIT, () -> {
            Map<String, JsonObject> api = peersOf(agent.port(), inode);
            Map<String, Map<String, Object>> shown = pageDestinations();
            for (var e : connects.entrySet()) {
                JsonObject p = api.get(e.getKey());
                Map<String, Object> row = shown.get(e.getKey());
                if (p == null || row == null || p.getLong("connects") != (long) e.getValue()) return false;
                if (!String.valueOf(p.getLong("connects")).equals(row.get("connects"))) return false;
                long live = statesOf(p).values().stream().mapToLong(Long::longValue).sum();
                if (!String.valueOf(live).equals(row.get("live"))) return false;
            }
            return true;
        }, () -> "destinations: page " + pageDestinations() + ", API " + peersOf(agent.port(), inode) + ", expected connects "
                + connects, "kernel-destinations");
        // the 5 held connections are ESTABLISHED towards 8103
        assertTrue(String.valueOf(pageDestinations().get("127.0.0.1:8103").get("states")).startsWith("ESTABLISHED 5 "),
                pageDestinations().toString());
        browser.screenshot("kernel-destinations");
    }

    /** The destination rows as shown, by remote: connects, live sockets, states, owners (text), read in one go. */
    @SuppressWarnings("unchecked")
    private Map<String, Map<String, Object>> pageDestinations() {
        return (Map<String, Map<String, Object>>) browser.js("""
                const out = {};
                for (const r of document.querySelectorAll("tr[data-testid='destination-row']")) {
                    const td = (f) => r.querySelector(`td[data-field='${f}']`);
                    out[r.dataset.remote] = {connects: td('connects').textContent, live: td('live').querySelector('.total').textContent,
                            states: td('live').querySelector('.states').textContent,
                            owners: [...td('owners').querySelectorAll('.comm')].map(c => c.textContent)};
                }
                return out;""");
    }

    @Test
    @Order(2)
    void anOverflowShowsInTheListenerRow(Netns ns) throws Exception {
        long inode = ns.inode();
        String storm = stormTool();
        ns.serve("--port", "8201", "--no-accept", "--backlog", "4");
        // clients beyond the backlog time out: a non-zero exit is expected
        ns.execMayFail(storm, "connect", "--port", "8201", "--count", "50", "--parallel", "50", "--close", "rst");

        browser.get(url() + "?netns=" + inode + "#listeners");
        browser.await(WAIT, this::live, () -> "the stream never opened", "kernel-overflow");
        By row = By.cssSelector("#listeners-table tr[data-port='8201']");
        browser.await(WAIT, () -> {
            var rows = browser.driver.findElements(row);
            if (rows.isEmpty()) return false;
            String overflows = rows.get(0).findElement(By.cssSelector("td[data-field='overflows']")).getText();
            return Long.parseLong(overflows.replace(",", "")) > 0;
        }, () -> "no listener row for port 8201 with overflows > 0; listeners note: '"
                + browser.text("listeners-status") + "'", "kernel-overflow");
        JsonObject api = io.tcpulse.agent.kernel.KernelTestSupport.listener(agent.port(), inode, 8201);
        assertNotNull(api, "no listener 8201 in the API");
        assertTrue(api.getLong("overflows") > 0, api.encode());
        WebElement tr = browser.driver.findElement(row); // read at once: rows re-render on every update
        assertEquals(String.valueOf(inode), tr.getAttribute("data-netns"));
        assertTrue(tr.findElement(By.cssSelector("td[data-field='acceptQueue']")).getText().contains("/ 4"),
                tr.getText());
        browser.click("#listeners-table tr[data-port='8201']");
        browser.await(WAIT, () -> browser.all("#listener-detail .uplot").size() == 2,
                () -> "listener detail charts missing", "kernel-overflow");
        browser.screenshot("kernel-listener-overflow");
    }

    @Test
    @Order(3)
    void anInjectedProcessNameIsShownAsText(Netns ns, @TempDir Path dir) throws Exception {
        // a process named like markup: the kernel keeps the first 15 bytes as its comm
        Path hostile = dir.resolve("<img src=x onerror=alert(1)>");
        Files.copy(Path.of(stormTool()), hostile, StandardCopyOption.COPY_ATTRIBUTES);
        Files.setPosixFilePermissions(hostile, PosixFilePermissions.fromString("rwxr-xr-x"));
        String comm = "<img src=x oner";
        long inode = ns.inode();
        browser.get(url() + "?netns=" + inode + "#events");
        browser.await(WAIT, this::live, () -> "the stream never opened", "kernel-xss");
        ns.serveWith(hostile.toString(), "--port", "8301");
        ns.exec(hostile.toString(), "connect", "--port", "8301", "--count", "3", "--close", "client");

        browser.await(WAIT, () -> browser.all("#events td[data-field='process']").stream()
                        .anyMatch(td -> td.getText().startsWith(comm + " (")),
                () -> "no event by '" + comm + "' in the tail", "kernel-xss");
        assertNoMarkup();
        browser.screenshot("kernel-xss-events");

        // the listener's owner has the same name (when the agent reports listeners)
        browser.get(url() + "?netns=" + inode + "#listeners");
        browser.await(WAIT, () -> !browser.all("#listeners-table tr[data-port='8301']").isEmpty()
                        || !browser.text("listeners-status").isEmpty(),
                () -> "listeners view empty", "kernel-xss");
        if (!browser.all("#listeners-table tr[data-port='8301']").isEmpty()) {
            String owner = browser.driver.findElement(By.cssSelector("tr[data-port='8301'] td[data-field='owner']")).getText();
            assertTrue(owner.startsWith(comm), "owner shown as '" + owner + "'");
        }
        assertNoMarkup();
        browser.screenshot("kernel-xss-listeners");

        // the destination it connected to names it as text too, with the connects the API counts
        browser.get(url() + "?netns=" + inode + "#destinations");
        browser.await(WAIT, () -> {
            Map<String, Object> row = pageDestinations().get("127.0.0.1:8301");
            JsonObject api = peersOf(agent.port(), inode).get("127.0.0.1:8301");
            return row != null && api != null && api.getLong("connects") == 3
                    && "3".equals(row.get("connects")) && row.get("owners").toString().contains(comm + " (");
        }, () -> "destination 127.0.0.1:8301: page " + pageDestinations().get("127.0.0.1:8301") + ", API "
                + peersOf(agent.port(), inode).get("127.0.0.1:8301"), "kernel-xss");
        assertNoMarkup();
        browser.screenshot("kernel-xss-destinations");
    }

    private void assertNoMarkup() {
        assertEquals(0L, browser.js("return document.querySelectorAll('img').length"),
                "a process name became an <img> element");
        assertThrows(NoAlertPresentException.class, () -> browser.raw().switchTo().alert(), "an alert() ran");
    }

    @Test
    @Order(4)
    void thePageKeepsWorkingAcrossAnAgentRestart(Netns ns) throws Exception {
        long inode = ns.inode();
        String storm = stormTool();
        ns.serve("--port", "8401");
        ns.exec(storm, "connect", "--port", "8401", "--count", "20", "--close", "client");

        browser.get(url() + "?netns=" + inode);
        browser.await(WAIT, this::live, () -> "the stream never opened", "kernel-restart");
        awaitCountsMatchApi(inode, ns.settledSs(WAIT, "LISTEN", "TIME_WAIT"), "kernel-restart");
        String firstStart = (String) browser.js("return document.body.dataset.agentStarted");

        int port = agent.port();
        agent.close();
        agent = null;
        browser.await(WAIT, () -> !live(), () -> "the page did not notice the agent going away", "kernel-restart");
        browser.screenshot("kernel-restart-down");

        agent = agents.start("--listen", "127.0.0.1:" + port, OPTIONS[0], OPTIONS[1]);
        ns.exec(storm, "connect", "--port", "8401", "--count", "10", "--close", "client");
        browser.await(Duration.ofSeconds(60), () -> live()
                        && !firstStart.equals(browser.js("return document.body.dataset.agentStarted")),
                () -> "the page did not reconnect to the new agent: " + browser.text("conn"), "kernel-restart");
        awaitCountsMatchApi(inode, ns.settledSs(WAIT, "LISTEN", "TIME_WAIT"), "kernel-restart");
        // the charts start again from the new agent's history
        browser.await(WAIT, () -> "".equals(browser.text("history-status"))
                        && browser.all("#chart-states .uplot").size() == 1,
                () -> "history after the restart: " + browser.text("history-status"), "kernel-restart");
        assertTrue(browser.text("events").contains("agent restarted"), "no restart mark in the event tail");
        browser.screenshot("kernel-restart-up");
    }
}
