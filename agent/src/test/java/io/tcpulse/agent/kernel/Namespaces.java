package io.tcpulse.agent.kernel;

import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;

/**
 * Makes namespaces as a test needs them (how many is known only while it runs); each is
 * removed when the scope this was injected into ends, as a {@link Netns} parameter is.
 */
public final class Namespaces {
    private final ExtensionContext.Store store;

    Namespaces(ExtensionContext.Store store) {
        this.store = store;
    }

    public Netns create() throws IOException, InterruptedException {
        Netns ns = Netns.create();
        store.put(new Object(), ns); // AutoCloseable: JUnit closes it with the scope
        return ns;
    }
}
