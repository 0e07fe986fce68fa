package io.tcpulse.agent.dashboard;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test class driving headless Chromium (tag {@code browser}): it fails at once when
 * Chromium or chromedriver is missing (-Dtcpulse.allowSkip=true skips instead), and its
 * methods may take a {@link Browser} parameter: one browser per class, started at first
 * use, back on a blank page with empty storage and its usual window before each test,
 * and quit after the class. See {@link BrowserExtension}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("browser")
@ExtendWith(BrowserExtension.class)
@interface BrowserTest {
}
