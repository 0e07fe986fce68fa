package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What KernelExtension promises, on fixture classes run through the JUnit launcher: a
 * namespace is removed and an agent stopped when the setup after them fails, when the
 * agent cannot start, and after a failing test.
 */
@KernelTest
class KernelExtensionTest {
    /** Namespaces and agents the fixtures got, as they got them. */
    static final List<Path> NAMESPACES = new ArrayList<>();
    static final List<Main.Agent> AGENTS = new ArrayList<>();

    @BeforeEach
    void clear() {
        NAMESPACES.clear();
        AGENTS.clear();
    }

    @Test
    void aNamespaceIsRemovedWhenTheSetupAfterItFails() {
        TestExecutionSummary s = run(SetupFails.class);
        assertEquals(1, s.getTotalFailureCount(), "the setup's failure is reported");
        assertEquals(1, NAMESPACES.size());
        assertFalse(Files.exists(NAMESPACES.get(0)), "left behind: " + NAMESPACES);
    }

    @Test
    void aNamespaceIsRemovedWhenTheAgentCannotStart() {
        TestExecutionSummary s = run(AgentFails.class);
        assertEquals(1, s.getTotalFailureCount());
        String why = s.getFailures().get(0).getException().getMessage();
        assertTrue(why.contains("could not make the Agent for never"), why);
        assertEquals(1, NAMESPACES.size());
        assertFalse(Files.exists(NAMESPACES.get(0)), "left behind: " + NAMESPACES);
    }

    @Test
    void classResourcesOutliveTestsAndGoWithTheClass() {
        TestExecutionSummary s = run(ClassScoped.class);
        assertEquals(2, s.getTestsStartedCount());
        assertEquals(1, s.getTotalFailureCount(), "one fixture test fails on purpose");
        // each test saw the class's namespace and one of its own: three, all gone; one agent, shared, stopped
        assertEquals(4, NAMESPACES.size(), NAMESPACES.toString());
        assertEquals(3, NAMESPACES.stream().distinct().count(), NAMESPACES.toString());
        for (Path p : NAMESPACES) assertFalse(Files.exists(p), "left behind: " + p);
        assertEquals(2, AGENTS.size());
        assertSame(AGENTS.get(0), AGENTS.get(1), "one agent for the class");
        assertThrows(Exception.class, () -> KernelTestSupport.getJson(AGENTS.get(0).port(), "/api/v1/health"),
                "the class's agent still answers");
    }

    private static TestExecutionSummary run(Class<?> fixture) {
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request().selectors(selectClass(fixture)).build(), listener);
        return listener.getSummary();
    }

    // ---- fixtures: run only through run() (surefire skips nested classes) ----

    @KernelTest
    static class SetupFails {
        @BeforeEach
        void setUp(Netns ns) {
            NAMESPACES.add(Path.of(ns.path()));
            throw new IllegalStateException("setup fails after the namespace was made");
        }

        @Test
        void never() {
            fail("the setup failed");
        }
    }

    @KernelTest
    static class AgentFails {
        @BeforeEach
        void setUp(Netns ns) {
            NAMESPACES.add(Path.of(ns.path()));
        }

        @Test
        @AgentOptions({"--walk-interval-ms", "-5"})
        void never(Main.Agent agent) {
            fail("the agent started with a negative walk interval");
        }
    }

    @KernelTest
    @AgentOptions({"--walk-interval-ms", "500"})
    static class ClassScoped {
        static Netns shared;

        @BeforeAll
        static void setUp(Netns ns) {
            shared = ns;
        }

        @Test
        void passes(Netns ns, Main.Agent agent) {
            see(ns, agent);
        }

        @Test
        void fails(Netns ns, Main.Agent agent) {
            see(ns, agent);
            fail("a failing test: its namespace goes all the same");
        }

        private static void see(Netns ns, Main.Agent agent) {
            assertTrue(Files.exists(Path.of(shared.path())), "the class's namespace lives on");
            NAMESPACES.add(Path.of(shared.path()));
            NAMESPACES.add(Path.of(ns.path()));
            AGENTS.add(agent);
        }
    }
}
