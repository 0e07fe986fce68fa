package io.tcpulse.agent.dashboard;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.WebElement;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every view in headless Chromium against an API that answers with the documented JSON
 * shapes (FakeAgent): what each view shows, sorting, pause, themes, and that hostile
 * process names stay text everywhere. No kernel needed; the kernel side is in
 * DashboardKernelBrowserTest.
 */
@BrowserTest
class DashboardViewsBrowserTest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static FakeAgent agent;
    private final Browser browser;

    DashboardViewsBrowserTest(Browser browser) {
        this.browser = browser;
    }

    @BeforeAll
    static void startAgent() throws Exception {
        agent = new FakeAgent();
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (agent != null) agent.close();
    }

    /** The page logged no error: no CSP violation, no failed module, no exception in a view. */
    @AfterEach
    void noConsoleErrors() {
        List<String> errors = browser.console().stream().filter(m -> m.startsWith("SEVERE")).collect(Collectors.toList());
        assertEquals(List.of(), errors, "errors in the browser console");
    }

    private void open(String hash) {
        browser.get(agent.url() + hash);
        browser.await(WAIT, () -> "open".equals(browser.js("return document.getElementById('conn').dataset.state")),
                () -> "the stream never opened", "views-open");
    }

    /** No element the page did not create itself, no script run by a name, no alert. */
    private void assertNoInjection(String shot) {
        assertEquals(0L, browser.js("return document.querySelectorAll('img').length"),
                "an <img> element exists: a kernel string was parsed as HTML (" + shot + ")");
        assertNull(browser.js("return window.__xss === undefined ? null : window.__xss"), "injected script ran");
        assertThrows(NoAlertPresentException.class, () -> browser.raw().switchTo().alert());
    }

    @Test
    void stateMachineShowsCountsAndHotEdges() {
        open("#overview");
        // counts from the stream: FakeAgent sends index * 3 per state
        browser.await(WAIT, () -> "3".equals(browser.text("sm-count-SYN_SENT")), () -> "SYN_SENT count missing", "views-sm");
        assertEquals("0", browser.text("count-ESTABLISHED"));
        assertEquals("18", browser.text("count-CLOSE_WAIT"));
        assertEquals("15", browser.text("sm-count-TIME_WAIT"));
        assertTrue(browser.text("sm-half-open").contains("30 half-open"), browser.text("sm-half-open"));
        // 500/s handshakes: a hot edge; 50/s timewait hand-overs; 60 - 50 = 10/s aborted FIN_WAIT2
        browser.await(WAIT, () -> "500/s".equals(browser.text("sm-rate-SYN_SENT-ESTABLISHED")),
                () -> "rate of SYN_SENT -> ESTABLISHED: " + browser.text("sm-rate-SYN_SENT-ESTABLISHED"), "views-sm");
        WebElement hot = browser.driver.findElement(By.cssSelector("line[data-edge='SYN_SENT-ESTABLISHED']"));
        assertTrue(hot.getAttribute("class").contains("heat-4"), hot.getAttribute("class"));
        WebElement idle = browser.driver.findElement(By.cssSelector("line[data-edge='CLOSE_WAIT-LAST_ACK']"));
        assertTrue(idle.getAttribute("class").contains("heat-0"), idle.getAttribute("class"));
        assertEquals("50/s", browser.text("sm-rate-FIN_WAIT2-TIME_WAIT"));
        String others = browser.text("sm-other");
        assertTrue(others.contains("FIN_WAIT2 → CLOSED (abort): 10/s"), others);
        assertTrue(others.contains("ESTABLISHED → CLOSED: 5/s"), others);
        // a fresh page shows the history at once
        assertEquals("", browser.text("history-status"));
        assertEquals(2L, browser.js("return document.querySelectorAll('#view-overview .uplot').length"));
        browser.screenshot("views-state-machine");
    }

    @Test
    void chartsPauseAndChangeRange() {
        open("#overview");
        browser.await(WAIT, () -> browser.all("#chart-states .uplot").size() == 1, () -> "no chart", "views-charts");
        WebElement pause = browser.byId("charts-pause");
        pause.click();
        assertEquals("true", pause.getAttribute("aria-pressed"));
        assertEquals("Resume", pause.getText());
        pause.click();
        assertEquals("false", pause.getAttribute("aria-pressed"));
        browser.driver.findElement(By.cssSelector("#range option[value='300']")).click();
        browser.await(WAIT, () -> ((Number) browser.js(
                        "return document.querySelector('#chart-states .u-legend') ? 1 : 0")).intValue() == 1,
                () -> "chart gone after a range change", "views-charts");
        browser.screenshot("views-charts");
    }

    @Test
    void listenersSortAndOpenDetail() {
        open("#listeners");
        browser.await(WAIT, () -> browser.all("#listeners-table tr[data-testid='listener-row']").size() == 3,
                () -> "listener rows: " + browser.all("#listeners-table tbody tr").size(), "views-listeners");
        // default order: the worst verdict first
        assertEquals("8080", ports().get(0));
        // read in one go: the rows are rendered anew on every update (an element found a moment ago may be gone)
        @SuppressWarnings("unchecked")
        java.util.Map<String, String> row = (java.util.Map<String, String>) browser.js("""
                const r = document.querySelector("tr[data-port='8080']");
                return {overflows: r.querySelector("td[data-field='overflows']").innerText, verdict: r.dataset.verdict,
                        queue: r.querySelector("td[data-field='acceptQueue']").innerText,
                        ratio: r.querySelector("td[data-field='acceptQueue'] .bar").dataset.ratio,
                        owner: r.querySelector("td[data-field='owner']").innerText};""");
        assertEquals("46", row.get("overflows"));
        assertEquals("accept-queue-full", row.get("verdict"));
        assertTrue(row.get("queue").contains("5 / 4"));
        assertEquals("1.250", row.get("ratio"));
        String owner = row.get("owner");
        assertTrue(owner.contains("<img src=x oner (4242)"), owner);
        assertTrue(owner.contains("evil-" + FakeAgent.HOSTILE + ".service"), owner);

        // sort by port number through the listener column, then by overflows (largest first)
        browser.click("th[data-key='overflows'] button");
        assertEquals(List.of("8080", "443", "22"), ports());
        assertEquals("descending", browser.driver.findElement(By.cssSelector("th[data-key='overflows']")).getAttribute("aria-sort"));
        browser.click("th[data-key='overflows'] button");
        assertEquals(List.of("22", "443", "8080"), ports());

        browser.click("tr[data-port='8080']");
        browser.await(WAIT, () -> browser.all("#listener-detail .uplot").size() == 2,
                () -> "listener detail charts missing", "views-listeners");
        assertTrue(browser.byId("listener-detail").getText().contains("accept queue limit 4"));
        assertNoInjection("views-listeners");
        browser.screenshot("views-listeners");
    }

    /** The listener rows' ports in the order shown, read in one go (rows are rendered anew on every update). */
    @SuppressWarnings("unchecked")
    private List<String> ports() {
        return (List<String>) browser.js(
                "return [...document.querySelectorAll(\"tr[data-testid='listener-row']\")].map(r => r.dataset.port);");
    }

    @Test
    void listenersShowWhatTheirAcceptedConnectionsCarried() {
        open("#listeners");
        browser.await(WAIT, () -> browser.all("#listeners-table tr[data-testid='listener-row']").size() == 3,
                () -> "listener rows: " + browser.all("#listeners-table tbody tr").size(), "views-listeners-carried");
        assertEquals(Map.of("accepted", "1,234", "connections", "ESTABLISHED 12 · CLOSE_WAIT 3", "retransmits", "17",
                        "bytesSent", "3.00 MiB", "bytesReceived", "1.50 KiB", "rtt", "0.250 ms / 4.20 ms"),
                cells("tr[data-testid='listener-row'][data-port='8080']", LISTENER_CARRIED));
        // no connection now and no RTT sampled
        assertEquals(Map.of("accepted", "0", "connections", "none", "retransmits", "0",
                        "bytesSent", "4.00 KiB", "bytesReceived", "2.00 KiB", "rtt", "–"),
                cells("tr[data-testid='listener-row'][data-port='22']", LISTENER_CARRIED));
        // an agent that does not report them yet
        assertEquals(Map.of("accepted", "–", "connections", "–", "retransmits", "–",
                        "bytesSent", "–", "bytesReceived", "–", "rtt", "–"),
                cells("tr[data-testid='listener-row'][data-port='443']", LISTENER_CARRIED));

        browser.click("th[data-key='bytesSent'] button");
        assertEquals(List.of("8080", "22", "443"), ports());
        browser.click("th[data-key='connections'] button");
        assertEquals("8080", ports().get(0), "15 connections, the others none");
        browser.click("th[data-key='connections'] button");
        assertEquals("ascending", browser.driver.findElement(By.cssSelector("th[data-key='connections']")).getAttribute("aria-sort"));
        assertEquals("8080", ports().get(2));
        assertNoInjection("views-listeners-carried");
        browser.screenshot("views-listeners-carried");
    }

    private static final List<String> LISTENER_CARRIED =
            List.of("accepted", "connections", "retransmits", "bytesSent", "bytesReceived", "rtt");

    /** The text of a row's cells (td[data-field]), read in one go: rows are rendered anew on every update. */
    @SuppressWarnings("unchecked")
    private Map<String, String> cells(String rowCss, List<String> fields) {
        return (Map<String, String>) browser.js("""
                const r = document.querySelector(arguments[0]);
                return Object.fromEntries(arguments[1].map(f => [f, r.querySelector(`td[data-field='${f}']`).textContent]));""",
                rowCss, fields);
    }

    /** The destination rows' remotes in the order shown. */
    @SuppressWarnings("unchecked")
    private List<String> remotes() {
        return (List<String>) browser.js(
                "return [...document.querySelectorAll(\"tr[data-testid='destination-row']\")].map(r => r.dataset.remote);");
    }

    /** One destination row's figures, each part of a cell by its own element, read in one go. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> destination(String remote) {
        return (Map<String, Object>) browser.js("""
                const r = [...document.querySelectorAll("tr[data-testid='destination-row']")].find(t => t.dataset.remote === arguments[0]);
                const td = (f) => r.querySelector(`td[data-field='${f}']`);
                const part = (f, css) => td(f).querySelector(css).textContent;
                return {netns: td('netns').textContent, live: part('live', '.total'), states: part('live', '.states'),
                        connects: td('connects').textContent, failed: part('failed', '.total'),
                        reasons: part('failed', '.reasons'),
                        reasonElements: Object.fromEntries([...td('failed').querySelectorAll('[data-reason]')]
                                .map(e => [e.dataset.reason, e.textContent])),
                        failureRatio: td('failureRatio').textContent, retransmits: part('retransmits', '.total'),
                        retransmitRatio: part('retransmits', '.ratio'),
                        bytesSent: td('bytesSent').textContent, bytesReceived: td('bytesReceived').textContent,
                        rtt: [td('rttP50').textContent, td('rttP90').textContent, td('rttP99').textContent],
                        owners: [...td('owners').querySelectorAll('.owner')].map(o => [o.querySelector('.comm').textContent,
                                o.querySelector('.unit') ? o.querySelector('.unit').textContent : '']),
                        ownersText: td('owners').textContent};""", remote);
    }

    @Test
    void destinationsShowFailuresBytesRttAndOwnersAndSort() {
        open("#destinations");
        browser.await(WAIT, () -> remotes().size() == 3,
                () -> "destination rows: " + browser.all("#destinations-table tbody tr").size() + ", note '"
                        + browser.text("destinations-status") + "'", "views-destinations");
        // the agent's order (most active first) until a header is clicked
        assertEquals(List.of("10.0.0.7:5432", "[2001:db8::1]:443", "192.0.2.9:80"), remotes());
        assertEquals("none", browser.driver.findElement(By.cssSelector("#destinations-table th[data-key='failed']"))
                .getAttribute("aria-sort"));

        Map<String, Object> db = destination("10.0.0.7:5432");
        assertEquals(String.valueOf(FakeAgent.NS), db.get("netns"));
        assertEquals("44", db.get("live"));
        assertEquals("ESTABLISHED 12 · SYN_SENT 2 · TIME_WAIT 30", db.get("states"));
        assertEquals("200", db.get("connects"));
        assertEquals("10", db.get("failed"));
        assertEquals("refused 7 · timeout 3", db.get("reasons"));
        assertEquals(Map.of("refused", "refused 7", "timeout", "timeout 3"), db.get("reasonElements"));
        assertEquals("5.0%", db.get("failureRatio"));
        assertEquals("42", db.get("retransmits"));
        assertEquals("0.5% of segments", db.get("retransmitRatio"));
        assertEquals("1.50 MiB", db.get("bytesSent"));
        assertEquals("5.00 GiB", db.get("bytesReceived"));
        assertEquals(List.of("0.512 ms", "3.10 ms", "12.5 ms"), db.get("rtt"));
        assertEquals(List.of(List.of("<img src=x oner (4242)", "evil-" + FakeAgent.HOSTILE + ".service"),
                List.of("psql (4243)", "app.service")), db.get("owners"));

        Map<String, Object> v6 = destination("[2001:db8::1]:443");
        assertEquals("3", v6.get("live"));
        assertEquals("ESTABLISHED 3 · SYN_SENT 0", v6.get("states"), "ESTABLISHED and SYN_SENT are always shown");
        assertEquals("0", v6.get("failed"));
        assertEquals("", v6.get("reasons"));
        assertEquals("0.0%", v6.get("failureRatio"));
        assertEquals("2.00 KiB", v6.get("bytesSent"));
        assertEquals("900 B", v6.get("bytesReceived"));
        assertEquals(List.of("–", "–", "–"), v6.get("rtt"), "no RTT sampled (count 0)");
        assertEquals(List.of(List.of("curl (9)", "")), v6.get("owners"));

        Map<String, Object> dark = destination("192.0.2.9:80");
        assertEquals("ESTABLISHED 0 · SYN_SENT 1", dark.get("states"));
        assertEquals("timeout 4", dark.get("reasons"));
        assertEquals("80.0%", dark.get("failureRatio"));
        assertEquals("0 B", dark.get("bytesSent"));
        assertEquals(List.of("–", "–", "–"), dark.get("rtt"), "no rtt in the answer");
        assertEquals(List.of(), dark.get("owners"));
        assertEquals("–", dark.get("ownersText"));

        // failure ratio: largest first, then reversed
        browser.click("#destinations-table th[data-key='failureRatio'] button");
        assertEquals(List.of("192.0.2.9:80", "10.0.0.7:5432", "[2001:db8::1]:443"), remotes());
        assertEquals("descending", browser.driver.findElement(By.cssSelector("#destinations-table th[data-key='failureRatio']"))
                .getAttribute("aria-sort"));
        browser.click("#destinations-table th[data-key='failureRatio'] button");
        assertEquals(List.of("[2001:db8::1]:443", "10.0.0.7:5432", "192.0.2.9:80"), remotes());
        assertEquals("ascending", browser.driver.findElement(By.cssSelector("#destinations-table th[data-key='failureRatio']"))
                .getAttribute("aria-sort"));
        // remote: by address as a number (10.x before 192.x), IPv6 after IPv4
        browser.click("#destinations-table th[data-key='remote'] button");
        assertEquals(List.of("10.0.0.7:5432", "192.0.2.9:80", "[2001:db8::1]:443"), remotes());
        // RTT p99, largest first: the one sampled, then the others in the agent's order
        browser.click("#destinations-table th[data-key='rttP99'] button");
        assertEquals(List.of("10.0.0.7:5432", "[2001:db8::1]:443", "192.0.2.9:80"), remotes());
        // bytes received, smallest first after a second click; the order holds when the next poll renders the rows anew
        browser.click("#destinations-table th[data-key='bytesReceived'] button");
        browser.click("#destinations-table th[data-key='bytesReceived'] button");
        assertEquals(List.of("192.0.2.9:80", "[2001:db8::1]:443", "10.0.0.7:5432"), remotes());
        browser.js("document.querySelector(\"tr[data-testid='destination-row']\").dataset.seen = '1';");
        browser.await(WAIT, () -> browser.all("tr[data-testid='destination-row'][data-seen]").isEmpty(),
                () -> "the rows were not rendered again", "views-destinations");
        assertEquals(List.of("192.0.2.9:80", "[2001:db8::1]:443", "10.0.0.7:5432"), remotes());

        assertNoInjection("views-destinations");
        browser.screenshot("views-destinations");
    }

    @Test
    void destinationsFollowTheNamespaceAndSayWhenThereAreNone() {
        open("?netns=4026531840#destinations");
        browser.await(WAIT, () -> "no destinations: nothing in this view connected anywhere since the agent started".equals(
                        browser.js("const e = document.querySelector('#destinations-table tbody tr.empty'); return e ? e.textContent : null")),
                () -> "no empty-state row: " + browser.byId("destinations-table").getText(), "views-destinations-empty");
        assertEquals(List.of(), remotes());
        browser.screenshot("views-destinations-empty");
        // the namespace that has them, picked in the header
        new org.openqa.selenium.support.ui.Select(browser.byId("netns")).selectByValue(String.valueOf(FakeAgent.NS));
        browser.await(WAIT, () -> remotes().size() == 3, () -> "rows after picking net:[" + FakeAgent.NS + "]: " + remotes(),
                "views-destinations-empty");
        assertTrue(browser.js("return location.search").toString().contains("netns=" + FakeAgent.NS));
    }

    @Test
    void timeWaitShowsExhaustionGauges() {
        open("#timewait");
        browser.await(WAIT, () -> browser.all("tr[data-testid='timewait-row']").size() == 2,
                () -> "TIME_WAIT rows missing", "views-timewait");
        WebElement top = browser.all("tr[data-testid='timewait-row']").get(0);
        assertEquals("10.0.0.7:5432", top.findElement(By.cssSelector("td[data-field='remote']")).getText());
        WebElement gauge = top.findElement(By.cssSelector("td[data-field='exhaustion'] .bar"));
        assertTrue(gauge.getAttribute("class").contains("warn"), gauge.getAttribute("class"));
        assertEquals("75.0%", gauge.getText());
        assertEquals("20.0 s", top.findElement(By.cssSelector("td[data-field='secondsToExhaustion']")).getText());
        assertEquals("3,000", browser.text("timewait-total"));
        browser.screenshot("views-timewait");
    }

    @Test
    void closeWaitFlagsLeakingOwners() {
        open("#closewait");
        browser.await(WAIT, () -> browser.all("tr[data-testid='closewait-row']").size() == 2,
                () -> "CLOSE_WAIT rows missing", "views-closewait");
        WebElement leaking = browser.all("tr[data-testid='closewait-row']").get(0);
        assertEquals("true", leaking.getAttribute("data-leaking"));
        assertEquals("<img src=x oner", leaking.findElement(By.cssSelector("td[data-field='comm']")).getText());
        assertEquals("5.2 min", leaking.findElement(By.cssSelector("td[data-field='oldest']")).getText());
        assertEquals("+12.0/min", leaking.findElement(By.cssSelector("td[data-field='growth']")).getText());
        assertEquals("57", browser.text("closewait-total"));
        assertNoInjection("views-closewait");
        browser.screenshot("views-closewait");
    }

    @Test
    void alertsShowLabelsAndSentences() {
        open("#alerts");
        browser.await(WAIT, () -> browser.all("li[data-testid='alert-firing']").size() == 1,
                () -> "firing alert missing", "views-alerts");
        WebElement firing = browser.all("li[data-testid='alert-firing']").get(0);
        assertTrue(firing.getText().contains("Listener 0.0.0.0:8080 of " + FakeAgent.HOSTILE + " overflowed 46 times"),
                firing.getText());
        assertEquals(FakeAgent.HOSTILE, firing.findElement(By.cssSelector("li[data-label='comm'] .v")).getText());
        assertEquals("8080", firing.findElement(By.cssSelector("li[data-label='port'] .v")).getText());
        assertEquals(1, browser.all("li[data-testid='alert-resolved']").size());
        assertEquals("1", browser.text("alerts-badge"));
        assertNoInjection("views-alerts");
        browser.screenshot("views-alerts");
    }

    @Test
    void eventTailFiltersPausesAndShowsNamesAsText() {
        open("#events");
        browser.await(WAIT, () -> !browser.all("#events tr td[data-field='process']").isEmpty(),
                () -> "no events", "views-events");
        String process = browser.all("#events td[data-field='process']").get(0).getText();
        assertEquals("<img src=x oner (4242)", process);
        WebElement pause = browser.byId("events-pause");
        pause.click();
        long rows = ((Number) browser.js("return document.querySelectorAll('#events tr').length")).longValue();
        browser.await(WAIT, () -> browser.text("events-paused").matches("paused: [1-9]\\d* new events? held back"),
                () -> "no held-back note: " + browser.text("events-paused"), "views-events");
        assertEquals(rows, ((Number) browser.js("return document.querySelectorAll('#events tr').length")).longValue(),
                "rows were added while paused");
        pause.click();
        assertTrue(((Number) browser.js("return document.querySelectorAll('#events tr').length")).longValue() > rows);
        // a filter reopens the stream with it
        browser.driver.findElement(By.cssSelector("#event-filter input[name='port']")).sendKeys("8080");
        browser.driver.findElement(By.cssSelector("#event-filter button[type='submit']")).click();
        browser.await(WAIT, () -> "open".equals(browser.js("return document.getElementById('conn').dataset.state"))
                        && !browser.all("#events tr").isEmpty(),
                () -> "no events after filtering", "views-events");
        assertNoInjection("views-events");
        browser.screenshot("views-events");
    }

    @Test
    void latencyHistogramsAreDrawn() {
        open("#latency");
        browser.await(WAIT, () -> browser.all("#latency-panels .uplot").size() == 3,
                () -> "histograms missing", "views-latency");
        assertTrue(browser.byId("latency-panels").getText().contains("p50"));
        browser.screenshot("views-latency");
    }

    @Test
    void everyProbeFeatureIsListedWithTheKernelsReason() {
        agent.featureOff = true;
        try {
            open("#overview");
            browser.await(WAIT, () -> browser.byId("probe-features-summary").getText().contains("1 of 2 on"),
                    () -> "features: " + browser.byId("probe-features-summary").getText(), "views-features");
            browser.byId("probe-features-summary").click();
            String list = browser.byId("probe-features-list").getText();
            assertTrue(list.contains("stateChanges: on (every state change)"), list);
            assertTrue(list.contains("closedPortResets: off (refused: " + FakeAgent.HOSTILE + ")"), list);
            // the banner names what is off on an otherwise healthy probe
            assertTrue(browser.byId("banner").getText().contains("the probe runs without: closedPortResets"),
                    browser.byId("banner").getText());
            assertNoInjection("views-features");
            browser.screenshot("views-features");
        } finally {
            agent.featureOff = false;
        }
    }

    @Test
    void bannerSaysWhenTheProbeIsDegradedOrEventsAreLost() {
        agent.probeAvailable = false;
        agent.lost = 17;
        try {
            open("#overview");
            browser.await(WAIT, () -> browser.byId("banner").isDisplayed(), () -> "no banner", "views-banner");
            String text = browser.byId("banner").getText();
            assertTrue(text.contains("Degraded: the eBPF probe is unavailable: bpf() denied: " + FakeAgent.HOSTILE), text);
            assertTrue(text.contains("17 events lost"), text);
            assertEquals("degraded", browser.byId("banner").getAttribute("data-level"));
            assertNoInjection("views-banner");
            browser.screenshot("views-banner");
        } finally {
            agent.probeAvailable = true;
            agent.lost = 0;
        }
    }

    @Test
    void bannerSaysWhichStepOfCollectionFailsAndWhatRecovered() {
        long now = System.currentTimeMillis();
        agent.outage = new JsonObject().put("step", "walk").put("errno", "EMFILE").put("sinceMillis", now - 30_000)
                .put("message", "/proc: Too many open files " + FakeAgent.HOSTILE).put("exitAtMillis", now + 270_000);
        agent.probeErrors = new JsonArray()
                .add(new JsonObject().put("step", "walk").put("errno", "EMFILE").put("count", 7).put("lastMillis", now - 100)
                        .put("message", "/proc: Too many open files " + FakeAgent.HOSTILE).put("failing", true))
                .add(new JsonObject().put("step", "drain").put("errno", "ENOMEM").put("count", 1).put("lastMillis", now - 60_000)
                        .put("message", "tcpulse__poll failed: ENOMEM").put("failing", false));
        try {
            open("#overview");
            browser.await(WAIT, () -> browser.byId("banner").isDisplayed() && browser.byId("banner").getText().contains("collection"),
                    () -> "no banner", "views-banner-outage");
            String text = browser.byId("banner").getText();
            assertTrue(text.contains("Degraded: collection is failing since "), text);
            assertTrue(text.contains("step walk (EMFILE): /proc: Too many open files " + FakeAgent.HOSTILE), text);
            assertTrue(text.contains("the agent exits to be restarted"), text);
            assertTrue(text.contains("The probe recovered from: drain ENOMEM (1×, last at "), text);
            assertFalse(text.contains("unavailable"), "the probe is attached: " + text);
            assertEquals("degraded", browser.byId("banner").getAttribute("data-level"));
            assertNoInjection("views-banner-outage");
            browser.screenshot("views-banner-outage");
        } finally {
            agent.outage = null;
            agent.probeErrors = new JsonArray();
        }
    }

    /**
     * A page left for another keeps no stream open, even where the browser keeps it in its
     * back/forward cache: a browser gives a host six connections, and pages holding theirs
     * made the next page wait a minute for one. Coming back, it is live again.
     */
    @Test
    void aPageLeftBehindClosesItsStream() {
        open("#overview");
        browser.await(WAIT, () -> agent.openStreams.get() >= 1, () -> "no stream open on the server", "views-pagehide");
        browser.get("about:blank");
        browser.await(WAIT, () -> agent.openStreams.get() == 0,
                () -> agent.openStreams.get() + " streams still open after leaving the page", "views-pagehide");
        browser.raw().navigate().back();
        browser.await(WAIT, () -> "open".equals(browser.js("return document.getElementById('conn').dataset.state"))
                        && agent.openStreams.get() == 1,
                () -> "back on the page: " + browser.text("conn") + ", streams open " + agent.openStreams.get(), "views-pagehide");
    }

    @Test
    void darkLightAndWallDisplay() {
        open("#overview");
        WebElement theme = browser.byId("theme");
        theme.click(); // auto -> dark
        assertEquals("dark", browser.js("return document.documentElement.dataset.theme"));
        String dark = (String) browser.js("return getComputedStyle(document.body).backgroundColor");
        browser.screenshot("views-dark");
        theme.click(); // dark -> light
        String light = (String) browser.js("return getComputedStyle(document.body).backgroundColor");
        assertNotEquals(dark, light);
        browser.screenshot("views-light");
        theme.click(); // back to auto

        // a wall display shows every view at once
        browser.driver.manage().window().setSize(new org.openqa.selenium.Dimension(2400, 1350));
        browser.await(WAIT, () -> browser.byId("view-listeners").isDisplayed() && browser.byId("view-alerts").isDisplayed(),
                () -> "wall layout does not show all views", "views-wall");
        browser.screenshot("views-wall");
        // a phone-sized window still works
        browser.driver.manage().window().setSize(new org.openqa.selenium.Dimension(420, 900));
        assertTrue(browser.byId("count-ESTABLISHED").isDisplayed());
        browser.screenshot("views-narrow");
    }
}
