package io.tcpulse.agent.kernel;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test class that needs root and BPF (tag {@code kernel}): it fails at once, saying
 * why, where it cannot run (-Dtcpulse.allowSkip=true skips instead), and its test and
 * lifecycle methods may take a {@link Netns}, an {@link Agents} or a {@code Main.Agent}
 * parameter, each closed by JUnit when its scope ends, failed or not. See
 * {@link KernelExtension}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("kernel")
@ExtendWith(KernelExtension.class)
public @interface KernelTest {
}
