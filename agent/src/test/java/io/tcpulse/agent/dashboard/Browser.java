package io.tcpulse.agent.dashboard;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Headless Debian Chromium driven through /usr/bin/chromedriver. The driver and browser
 * paths are set explicitly, so Selenium Manager never looks anything up on the network.
 * A test that needs the browser fails (never skips) when it is missing.
 */
final class Browser implements AutoCloseable {
    static final String CHROMIUM = System.getProperty("tcpulse.chromium", "/usr/bin/chromium");
    static final String CHROMEDRIVER = System.getProperty("tcpulse.chromedriver", "/usr/bin/chromedriver");
    /** Where screenshots go: agent/target/screenshots when Maven runs the tests. */
    static final Path SCREENSHOTS = Path.of(System.getProperty("tcpulse.screenshots", "target/screenshots"));

    /** Kept strongly: no CDP bindings are on the classpath (none are needed), so keep quiet about it. */
    private static final java.util.logging.Logger CDP_LOG = java.util.logging.Logger.getLogger("org.openqa.selenium.devtools");
    static {
        CDP_LOG.setLevel(Level.SEVERE);
    }

    final ChromeDriver driver;
    private final Path profile;
    private final ChromeDriverService service;

    /** The window as opened, restored by reset(). */
    private final org.openqa.selenium.Dimension window;

    private Browser(ChromeDriver driver, ChromeDriverService service, Path profile) {
        this.driver = driver;
        this.service = service;
        this.profile = profile;
        this.window = driver.manage().window().getSize();
    }

    /** Fails the test when Chromium or chromedriver is missing; -Dtcpulse.allowSkip=true skips instead. */
    static void require() {
        String problem = null;
        if (!Files.isExecutable(Path.of(CHROMIUM))) problem = CHROMIUM + " is missing (Debian package chromium)";
        else if (!Files.isExecutable(Path.of(CHROMEDRIVER))) problem = CHROMEDRIVER + " is missing (Debian package chromium-driver)";
        if (problem == null) return;
        if (Boolean.getBoolean("tcpulse.allowSkip")) Assumptions.abort(problem);
        fail(problem + " — scripts/install-deps.sh installs it; -Dtcpulse.allowSkip=true skips knowingly");
    }

    static Browser open(int width, int height) throws IOException {
        require();
        // no Selenium Manager, no telemetry: everything is local
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER);
        System.setProperty("SE_AVOID_STATS", "true");
        Path profile = Files.createTempDirectory("tcpulse-chromium-");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--no-default-browser-check",
                "--user-data-dir=" + profile, "--window-size=" + width + "," + height);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort()
                .build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
        return new Browser(driver, service, profile);
    }

    /**
     * As a new browser would be for the next test: the page's storage emptied (the theme
     * is kept there), no cookies, a blank page (so the next get() loads even the same URL
     * anew), the usual window size, and the console's earlier messages dropped.
     */
    void reset() {
        try {
            js("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}");
        } catch (RuntimeException noPage) {
            // nothing loaded, or a page without storage
        }
        driver.manage().deleteAllCookies();
        driver.get("about:blank");
        if (!driver.manage().window().getSize().equals(window)) driver.manage().window().setSize(window);
        console();
    }

    /**
     * Clicks what css selects as the page is now: views re-render their rows on every
     * update, so an element found a moment ago may be gone (stale); it is found again.
     */
    void click(String css) {
        io.tcpulse.agent.testing.Wait.until(Duration.ofSeconds(10), () -> {
            try {
                driver.findElement(By.cssSelector(css)).click();
                return true;
            } catch (org.openqa.selenium.StaleElementReferenceException rerendered) {
                return false;
            }
        }, () -> css + " kept being re-rendered under the click");
    }

    void get(String url) {
        driver.get(url);
    }

    WebElement byId(String id) {
        return driver.findElement(By.id(id));
    }

    List<WebElement> all(String css) {
        return driver.findElements(By.cssSelector(css));
    }

    Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    String text(String id) {
        return (String) js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;", id);
    }

    /** Waits until the condition holds, or fails with the message (and a screenshot). */
    void await(Duration timeout, Supplier<Boolean> done, Supplier<String> message, String shotName) {
        try {
            new WebDriverWait(driver, timeout, Duration.ofMillis(200)).until(d -> {
                try {
                    return done.get();
                } catch (RuntimeException e) {
                    return false; // the page is between two renders: try again
                }
            });
        } catch (org.openqa.selenium.TimeoutException e) {
            Path shot = screenshot(shotName + "-FAILED");
            fail(message.get() + " (after " + timeout.toSeconds() + " s; screenshot " + shot + "; console: "
                    + console() + ")");
        }
    }

    /** Saves a PNG of the window under target/screenshots; returns its path. */
    Path screenshot(String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            File png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
            Path out = SCREENSHOTS.resolve(name + ".png");
            Files.copy(png.toPath(), out, StandardCopyOption.REPLACE_EXISTING);
            return out.toAbsolutePath();
        } catch (IOException | RuntimeException e) {
            return Path.of("(no screenshot: " + e + ")");
        }
    }

    /** Messages the page logged (errors, warnings, console.*). */
    List<String> console() {
        List<String> out = new ArrayList<>();
        try {
            for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) out.add(e.getLevel() + " " + e.getMessage());
        } catch (RuntimeException ignored) {
            // the driver may be gone
        }
        return out;
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } catch (RuntimeException ignored) {
            // already gone
        }
        service.stop();
        try (Stream<Path> files = Files.walk(profile)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp dir left behind
        }
    }

    WebDriver raw() {
        return driver;
    }
}
