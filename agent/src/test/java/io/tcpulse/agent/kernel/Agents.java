package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.tcpulse.agent.config.Config;
import io.tcpulse.agent.probe.ProbeLoop;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Starts in-process agents that are stopped when the scope this was injected into ends
 * (a test method, or the class for a {@code @BeforeAll} parameter), whether the test
 * passed, failed, or its setup threw. Closing an agent earlier is fine (close is idempotent).
 */
public final class Agents {
    private final ExtensionContext.Store store;

    Agents(ExtensionContext.Store store) {
        this.store = store;
    }

    /** An agent with these options, on 127.0.0.1:0 unless they name --listen. */
    public Main.Agent start(String... options) throws Exception {
        return start(null, options);
    }

    /** The same, with an outage handler in place of the agent's exit (null: the agent's own). */
    public Main.Agent start(ProbeLoop.OutageHandler onOutage, String... options) throws Exception {
        Config config = Config.parse(args(options));
        Main.Agent agent = onOutage == null ? Main.Agent.start(config) : Main.Agent.start(config, onOutage);
        store.put(new Object(), agent); // AutoCloseable: JUnit closes it with the scope
        return agent;
    }

    static String[] args(String... options) {
        List<String> args = new ArrayList<>();
        if (!Arrays.asList(options).contains("--listen")) args.addAll(List.of("--listen", "127.0.0.1:0"));
        args.addAll(Arrays.asList(options));
        return args.toArray(String[]::new);
    }
}
