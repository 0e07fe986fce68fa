package io.tcpulse.agent.probe;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** When the probe loop's watchdog wakes: at the first moment an outage could be due, not every second. */
class WatchdogScheduleTest {
    static final long MAX = TimeUnit.MINUTES.toNanos(5), EVERY = 1_000, S = 1_000_000_000L;

    @Test
    void aHealthyLoopIsLookedAtWhenItsLastBeatWouldBeTooOld() {
        // beat 2 s ago: stuck only 298 s from now
        assertEquals(298_001, ProbeLoop.untilOutageMs(100 * S, 98 * S, 0, 0, MAX, EVERY));
    }

    @Test
    void aFailureStreakIsDueAtItsStartPlusMaxOutage() {
        // beating now, failing since 10 s ago: due in 290 s
        assertEquals(290_001, ProbeLoop.untilOutageMs(100 * S, 100 * S, 90 * S, 0, MAX, EVERY));
    }

    @Test
    void aReportedOutageIsLookedAtEverySecondUntilItChanges() {
        assertEquals(EVERY, ProbeLoop.untilOutageMs(400 * S, 90 * S, 90 * S, 90 * S, MAX, EVERY));
    }

    @Test
    void anOverdueOneIsLookedAtSoon() {
        assertEquals(10, ProbeLoop.untilOutageMs(400 * S, 90 * S, 0, 0, MAX, EVERY));
    }
}
