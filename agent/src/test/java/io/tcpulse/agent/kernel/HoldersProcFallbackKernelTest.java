package io.tcpulse.agent.kernel;

import org.junit.jupiter.api.BeforeAll;

import static io.tcpulse.agent.kernel.KernelTestSupport.*;

/**
 * The same shapes where the kernel offers no holders walk (socketHolders off, as on a
 * kernel refusing iter/task_file): owners from /proc/PID/fd, which root may read whole.
 */
@KernelTest
class HoldersProcFallbackKernelTest extends HoldersKernelTest {
    @BeforeAll
    static void start() throws Exception {
        requireRootAndBpf();
        expectedSource = "proc";
        agent = startAgent("--walk-interval-ms", "300", "--disable-feature", "socketHolders");
    }
}
