package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;

import java.util.List;
import java.util.function.Consumer;

/** Where readers get the latest snapshot and the live event stream. */
public interface SnapshotSource {
    /** The latest published snapshot; never null. */
    Snapshot current();

    /**
     * Subscribes to event batches (newest last). The listener is called on the probe
     * thread: it must hand the batch over (e.g. Context#runOnContext) and never block.
     * Close the returned handle to unsubscribe.
     */
    AutoCloseable subscribe(Consumer<List<Event>> listener);

    /** The last hour as per-second samples, or null when this source keeps none. */
    default History history() { return null; }
}
