package io.tcpulse.agent.dashboard;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.io.IOException;

/**
 * {@link BrowserTest}'s lifecycle: Chromium checked before the class runs; one
 * {@link Browser} per class in the class's JUnit store (quit when the class ends, failed
 * or not), reset before each test so no test sees another's page, storage or window size.
 */
final class BrowserExtension implements BeforeAllCallback, BeforeEachCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(BrowserExtension.class);
    static final int WIDTH = 1400, HEIGHT = 1000;

    @Override
    public void beforeAll(ExtensionContext context) {
        Browser.require();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Browser browser = classStore(context).get(Browser.class, Browser.class);
        if (browser != null) browser.reset();
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == Browser.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return classStore(context).getOrComputeIfAbsent(Browser.class, k -> {
            try {
                return Browser.open(WIDTH, HEIGHT);
            } catch (IOException | RuntimeException e) {
                throw new ParameterResolutionException("Chromium did not start: " + e, e);
            }
        }, Browser.class);
    }

    private static ExtensionContext.Store classStore(ExtensionContext context) {
        ExtensionContext c = context;
        while (c.getTestMethod().isPresent() && c.getParent().isPresent()) c = c.getParent().get();
        return c.getStore(NS);
    }
}
