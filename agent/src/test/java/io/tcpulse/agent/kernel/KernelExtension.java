package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.util.Optional;

/**
 * The kernel tests' lifecycle ({@link KernelTest}): checks root and BPF once per class
 * before anything else runs, and resolves
 * <ul>
 *   <li>{@link Netns}: a namespace of its own per parameter, per test in a test method,
 *       a constructor or a {@code @BeforeEach} method, per class in a {@code @BeforeAll}
 *       method;</li>
 *   <li>{@link Namespaces} and {@link Agents}: make namespaces and start agents that go
 *       with the same scope;</li>
 *   <li>{@code Main.Agent}: the agent of {@link AgentOptions} (the test's own when the
 *       method carries them, else the class's, shared by its tests).</li>
 * </ul>
 * Each is kept in the JUnit store of its scope, which closes it when the scope ends,
 * also when a later setup step (another parameter, the agent's start, a
 * {@code @BeforeEach}) fails.
 */
public final class KernelExtension implements BeforeAllCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KernelExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        KernelTestSupport.requireRootAndBpf();
    }

    /** Constructor parameters resolve as a test method's: a Netns there is the test's own. */
    @Override
    public ExtensionContextScope getTestInstantiationExtensionContextScope(ExtensionContext rootContext) {
        return ExtensionContextScope.TEST_METHOD;
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == Netns.class || type == Namespaces.class || type == Agents.class || type == Main.Agent.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        try {
            if (type == Netns.class) return new Namespaces(context.getStore(NS)).create();
            if (type == Namespaces.class) return new Namespaces(context.getStore(NS));
            if (type == Agents.class) return new Agents(context.getStore(NS));
            return agent(context);
        } catch (ParameterResolutionException e) {
            throw e;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new ParameterResolutionException("could not make the " + type.getSimpleName() + " for "
                    + parameter.getDeclaringExecutable().getName() + ": " + e, e);
        }
    }

    private static Main.Agent agent(ExtensionContext context) throws Exception {
        Optional<AgentOptions> own = context.getTestMethod().map(m -> m.getAnnotation(AgentOptions.class));
        if (own.isPresent()) return new Agents(context.getStore(NS)).start(own.get().value());
        ExtensionContext classContext = context.getTestMethod().isPresent() ? context.getParent().orElseThrow() : context;
        String[] options = classContext.getRequiredTestClass().isAnnotationPresent(AgentOptions.class)
                ? classContext.getRequiredTestClass().getAnnotation(AgentOptions.class).value() : new String[0];
        return classContext.getStore(NS).getOrComputeIfAbsent("agent", k -> {
            try {
                return Main.Agent.start(io.tcpulse.agent.config.Config.parse(Agents.args(options)));
            } catch (Exception e) {
                throw new ParameterResolutionException("the class's agent did not start with "
                        + String.join(" ", options) + ": " + e, e);
            }
        }, Main.Agent.class);
    }
}
