package io.tcpulse.agent.testing;

import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.awaitility.core.ConditionTimeoutException;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The tests' one wait helper (Awaitility underneath): wait for the state a test needs,
 * never for a guess of how long it takes. The condition is polled on the calling thread
 * (WebDriver and the agent's helpers are not thread-safe), at once and then every 100 ms;
 * an exception thrown by the condition fails at once, as an assertion would.
 *
 * <pre>{@code
 * Map<String, Long> seen = Wait.until(Duration.ofSeconds(10), () -> transitionsOf(port, inode), expected::equals,
 *         last -> "transitions: expected " + expected + ", last seen " + last);
 * }</pre>
 */
public final class Wait {
    public static final Duration POLL = Duration.ofMillis(100);

    private Wait() {}

    /**
     * Observes until done holds for what was observed, and returns that; on timeout fails
     * with message applied to the last value observed.
     */
    public static <T> T until(Duration timeout, Callable<T> observe, Predicate<? super T> done,
                              Function<? super T, String> message) {
        return until(timeout, POLL, observe, done, message);
    }

    /** {@link #until(Duration, Callable, Predicate, Function)} polling every interval. */
    public static <T> T until(Duration timeout, Duration interval, Callable<T> observe, Predicate<? super T> done,
                              Function<? super T, String> message) {
        AtomicReference<T> last = new AtomicReference<>();
        try {
            return factory(timeout, interval).until(() -> {
                T v = observe.call();
                last.set(v);
                return v;
            }, done::test);
        } catch (ConditionTimeoutException e) {
            fail(message.apply(last.get()) + " (still so after " + seconds(timeout) + ")");
            return null;
        }
    }

    /** Waits until done returns true; on timeout fails with the message (computed then). */
    public static void until(Duration timeout, BooleanSupplier done, Supplier<String> message) {
        until(timeout, POLL, done, message);
    }

    /** {@link #until(Duration, BooleanSupplier, Supplier)} polling every interval. */
    public static void until(Duration timeout, Duration interval, BooleanSupplier done, Supplier<String> message) {
        try {
            factory(timeout, interval).until(done::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            fail(message.get() + " (still so after " + seconds(timeout) + ")");
        }
    }

    /**
     * Waits until observe returns the same value twice in a row, interval apart, and done
     * holds for it (a count that has stopped moving); returns it.
     */
    public static <T> T settled(Duration timeout, Duration interval, Callable<T> observe, Predicate<? super T> done,
                                Function<? super T, String> message) {
        AtomicReference<T> previous = new AtomicReference<>();
        AtomicReference<T> last = new AtomicReference<>();
        try {
            return factory(timeout, interval).until(() -> {
                T v = observe.call();
                previous.set(last.getAndSet(v));
                return v;
            }, v -> done.test(v) && Objects.equals(v, previous.get()));
        } catch (ConditionTimeoutException e) {
            fail(message.apply(last.get()) + " (not settled after " + seconds(timeout) + ")");
            return null;
        }
    }

    private static ConditionFactory factory(Duration timeout, Duration interval) {
        return Awaitility.await()
                .atMost(timeout)
                .pollDelay(Duration.ZERO)
                .pollInterval(interval)
                .pollInSameThread();
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
