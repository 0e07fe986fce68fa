package io.tcpulse.agent.aggregate;

import java.util.concurrent.Callable;

/**
 * Runs one step of collection that may fail on its own, without taking the rest down:
 * the probe loop's supervisor counts and logs the failure, backs the step off and
 * answers orElse meanwhile (docs/operations.md#supervision).
 */
public interface StepGuard {
    /** body's result, or orElse when body failed or the step waits out its backoff. */
    <T> T attempt(String step, Callable<T> body, T orElse);

    /** No supervisor (tests, benchmarks): body runs every time and its failure propagates. */
    StepGuard UNGUARDED = new StepGuard() {
        @Override
        public <T> T attempt(String step, Callable<T> body, T orElse) {
            try {
                return body.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(step + " failed: " + e.getMessage(), e);
            }
        }
    };
}
