package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.ProbeError;
import io.tcpulse.agent.model.ProbeOutage;
import io.tcpulse.agent.probe.Supervisor.Step;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/** Backoff, counting by cause and the outage, on an injected clock: no sleeping. */
class SupervisorTest {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final AtomicLong wall = new AtomicLong(1_767_261_600_000L);
    private final Supervisor sup = new Supervisor(300_000, nanos::get, wall::get);

    private void advanceMs(long ms) {
        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
        wall.addAndGet(ms);
    }

    private boolean fail(Step step, Throwable t) {
        return sup.run(step, () -> { throw t instanceof Exception e ? e : new RuntimeException(t); });
    }

    @Test
    void aFailingStepBacksOffFrom100msTo10sAndResetsOnSuccess() {
        long[] expected = {100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000};
        for (long wait : expected) {
            assertTrue(sup.due(Step.WALK, nanos.get()));
            assertFalse(fail(Step.WALK, new IllegalStateException("boom")));
            advanceMs(wait - 1);
            assertFalse(sup.due(Step.WALK, nanos.get()), "retried before " + wait + " ms");
            assertFalse(sup.run(Step.WALK, () -> org.junit.jupiter.api.Assertions.fail("must not run while backing off")), "skipped, not run");
            advanceMs(1);
        }
        assertTrue(sup.run(Step.WALK, () -> { }));
        assertFalse(fail(Step.WALK, new IllegalStateException("boom")));
        advanceMs(100);
        assertTrue(sup.due(Step.WALK, nanos.get()), "back to 100 ms after a success");
    }

    @Test
    void stepsBackOffApart() {
        fail(Step.WALK, new IllegalStateException("walk broke"));
        assertTrue(sup.due(Step.DRAIN, nanos.get()), "a failing walk never holds the drain back");
        assertTrue(sup.run(Step.DRAIN, () -> { }));
        assertFalse(sup.due(Step.WALK, nanos.get()));
    }

    @Test
    void errorsAreCountedByStepAndCause() {
        fail(Step.WALK, new ProbeException("tcpulse__snapshot(own namespace)", Errno.EMFILE, null));
        advanceMs(100);
        fail(Step.WALK, new UncheckedIOException(new FileSystemException("/proc", null, "Too many open files")));
        advanceMs(200);
        fail(Step.DRAIN, new ProbeException("tcpulse__poll", Errno.ENOMEM, null));
        advanceMs(100);
        sup.run(Step.DRAIN, () -> { });
        fail(Step.OWNERS, new NullPointerException("owner"));

        List<ProbeError> errors = sup.errors();
        assertEquals(3, errors.size(), errors.toString());
        ProbeError walk = errors.get(0);
        assertEquals("walk", walk.step());
        assertEquals("EMFILE", walk.errno());
        assertEquals(2, walk.count());
        assertEquals("/proc: Too many open files", walk.message());
        assertEquals(wall.get() - 300, walk.lastMillis());
        assertTrue(walk.failing());
        ProbeError drain = errors.get(1);
        assertEquals("ENOMEM", drain.errno());
        assertEquals(1, drain.count());
        assertFalse(drain.failing(), "the drain succeeded since");
        assertTrue(drain.message().startsWith("tcpulse__poll failed: ENOMEM"), drain.message());
        assertEquals("NullPointerException", errors.get(2).errno(), "no errno: the exception's class");
    }

    @Test
    void theOutageIsTheCollectingStepFailingTheLongestUntilItRecovers() {
        assertNull(sup.outage());
        fail(Step.OWNERS, new IllegalStateException("no /proc"));
        assertNull(sup.outage(), "unnamed owners are no outage");
        long since = wall.get();
        fail(Step.WALK, new ProbeException("tcpulse__snapshot(own namespace)", Errno.EMFILE, null));
        advanceMs(150);
        fail(Step.COUNTERS, new IllegalStateException("later"));
        ProbeOutage o = sup.outage();
        assertEquals("walk", o.step());
        assertEquals("EMFILE", o.errno());
        assertEquals(since, o.sinceMillis());
        assertEquals(since + 300_000, o.exitAtMillis());
        assertEquals(nanos.get() - TimeUnit.MILLISECONDS.toNanos(150), sup.outageSinceNanos());
        assertTrue(o.describe().contains("step walk (EMFILE)"), o.describe());

        advanceMs(10_000);
        assertTrue(sup.run(Step.WALK, () -> { }));
        assertEquals("counters", sup.outage().step(), "the counters still fail");
        assertTrue(sup.run(Step.COUNTERS, () -> { }));
        assertNull(sup.outage());
        assertEquals(List.of("owners"), sup.errors().stream().filter(ProbeError::failing).map(ProbeError::step).toList());
    }

    @Test
    void causesAreBounded() {
        for (int i = 0; i < Supervisor.MAX_CAUSES + 10; i++) {
            ProbeException e = new ProbeException("tcpulse__stats", 1000 + i, null); // "errno 1000": a new cause each time
            sup.attempt(Step.PUBLISH, () -> { throw e; }, null);
            advanceMs(10_000);
        }
        List<ProbeError> errors = sup.errors();
        assertEquals(Supervisor.MAX_CAUSES + 1, errors.size());
        assertEquals("other", errors.get(errors.size() - 1).errno());
        assertEquals(10, errors.get(errors.size() - 1).count());
    }

    @Test
    void aHookFailsTheStepItIsCalledFor() {
        sup.hook(step -> {
            if (step == Step.COUNTERS || step == Step.OWNERS) throw new IllegalStateException("injected " + step.label);
        });
        assertTrue(sup.run(Step.DRAIN, () -> { }));
        assertFalse(sup.run(Step.COUNTERS, () -> { }));
        // the aggregator's owner lookups come through the StepGuard side
        assertEquals(0, sup.attempt("owners", () -> 1, 0));
        assertEquals(List.of("injected counters", "injected owners"),
                sup.errors().stream().map(ProbeError::message).toList());
    }
}
