package io.tcpulse.agent.kernel;

import io.tcpulse.agent.Main;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12: idle means asleep. A consumer that found the rings empty sleeps until a step is
 * due, and the first event after wakes it (consumer_asleep, BPF_RB_FORCE_WAKEUP): without
 * that, one connection's events wait for the sleep's end and nothing counts a wake-up.
 */
@KernelTest
class ConsumerWakeKernelTest {
    private final Main.Agent agent;

    ConsumerWakeKernelTest(Main.Agent agent) {
        this.agent = agent;
    }

    @Test
    void theFirstEventAfterQuietWakesTheConsumer(Netns ns) throws Exception {
        Process server = ns.serve("--port", "8410");
        ns.settledSs(Duration.ofSeconds(10), "LISTEN");
        // other TCP on the host may keep the consumer awake in a given second: a few tries
        long woken = 0;
        for (int attempt = 0; attempt < 10 && woken == 0; attempt++) {
            JsonObject before = events();
            Thread.sleep(1_500); // a whole wait with no event: the next one sleeps until the first event
            ns.exec(stormTool(), "connect", "--port", "8410", "--count", "1", "--close", "client");
            long consumed = before.getLong("consumed");
            await(Duration.ofSeconds(5), () -> events().getLong("consumed") >= consumed + 4,
                    () -> "the connection's events were not consumed: " + events());
            woken = wakeups(events()) - wakeups(before);
        }
        assertTrue(woken >= 1, "no wake-up by a first event in 10 tries: " + events());
        server.destroy();
    }

    private JsonObject events() {
        return healthOf(agent.port()).getJsonObject("events");
    }

    private static long wakeups(JsonObject events) {
        return events.getJsonObject("wakeups").getLong("firstEvent");
    }
}
