package io.tcpulse.agent.dashboard;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The dashboard as the agent serves it: uPlot packaged from npm into the jar, the CSP on
 * every file, and no way for a string to become markup in the sources.
 */
class DashboardAssetsTest {
    /** Sinks that parse a string as HTML or code. */
    private static final Pattern SINKS = Pattern.compile(
            "\\.innerHTML|\\.outerHTML|insertAdjacentHTML|document\\.write|\\beval\\(|new Function\\(|createContextualFragment");

    @Test
    void theAgentServesThePageAndUplotFromItsJar() throws Exception {
        HistoryApiTest.start();
        try {
            HttpResponse<String> page = HistoryApiTest.get("/");
            assertEquals(200, page.statusCode());
            assertTrue(page.body().contains("<script type=\"module\" src=\"app.js\"></script>"));
            assertTrue(page.headers().firstValue("content-security-policy").orElse("").contains("script-src 'self'"));
            HttpResponse<String> uplot = HistoryApiTest.get("/vendor/uplot/dist/uPlot.esm.js");
            assertEquals(200, uplot.statusCode());
            assertTrue(uplot.headers().firstValue("content-type").orElse("").contains("javascript"),
                    uplot.headers().toString());
            assertTrue(uplot.body().contains("export { uPlot as default }"));
            assertEquals(200, HistoryApiTest.get("/vendor/uplot/dist/uPlot.min.css").statusCode());
            assertEquals(200, HistoryApiTest.get("/vendor/uplot/LICENSE").statusCode());
            for (String f : List.of("/api.js", "/state.js", "/views/stateMachine.js", "/views/listeners.js", "/views/destinations.js")) {
                assertEquals(200, HistoryApiTest.get(f).statusCode(), f);
            }
            // the npm manifest stays out of the jar
            assertEquals(404, HistoryApiTest.get("/package.json").statusCode());
        } finally {
            HistoryApiTest.stop();
        }
    }

    @Test
    void noScriptUsesAnHtmlSink() throws IOException {
        Path dir = Path.of("..", "dashboard");
        assertTrue(Files.isDirectory(dir), dir.toAbsolutePath().toString());
        List<Path> scripts;
        try (Stream<Path> files = Files.walk(dir)) {
            scripts = files.filter(p -> p.toString().endsWith(".js") && !p.toString().contains("node_modules")).toList();
        }
        assertTrue(scripts.size() >= 10, "scripts: " + scripts);
        for (Path p : scripts) {
            String src = Files.readString(p).replace("'http://www.w3.org/2000/svg'", "SVG_NS");
            Matcher m = SINKS.matcher(src);
            assertFalse(m.find(), p + " uses " + (m.hitEnd() ? "" : m.group()) + ": put text in with textContent");
            assertFalse(src.contains("http://") || src.contains("https://"), p + " refers to another origin");
        }
        String html = Files.readString(dir.resolve("index.html"));
        assertFalse(html.matches("(?s).*<script(?![^>]*\\bsrc=)[^>]*>.*"), "inline script in index.html");
        assertFalse(html.contains("style="), "inline style in index.html");
        assertFalse(html.contains("<style"), "inline style element in index.html");
    }
}
