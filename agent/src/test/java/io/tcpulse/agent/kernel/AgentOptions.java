package io.tcpulse.agent.kernel;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Command-line options of the agent a {@code Main.Agent} parameter gets (after
 * {@code --listen 127.0.0.1:0}). On the class: one agent shared by its tests, started at
 * first use and stopped after the last. On a test method: an agent of that test's own.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
public @interface AgentOptions {
    String[] value() default {};
}
