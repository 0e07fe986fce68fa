package io.tcpulse.agent.aggregate;

import io.tcpulse.agent.model.Event;
import io.tcpulse.agent.probe.EventDecoder;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.AbstractList;
import java.util.List;

/**
 * The newest events, kept as the kernel's raw records: adding costs a 120-byte copy per
 * event whatever the rate, and records become Event objects only when someone reads them.
 * A snapshot's list is copied from the ring when it is first read, not when the snapshot
 * is built (five times a second in a storm: 1.2 MB each at the default 10,000 events):
 * written by the aggregating thread, read by HTTP handlers, under this object's lock.
 */
final class RecentEvents {
    private static final int SIZE = EventDecoder.EVENT_SIZE;

    private final byte[] ring;
    private final int capacity;
    private int next;   // slot the next record goes to
    private int size;

    RecentEvents(int capacity) {
        this.capacity = capacity;
        this.ring = new byte[capacity * SIZE];
    }

    /** Keeps the newest records of a batch (EventDecoder layout). */
    synchronized void add(ByteBuffer batch, int count) {
        for (int i = Math.max(0, count - capacity); i < count; i++) {
            batch.get(i * SIZE, ring, next * SIZE, SIZE);
            next = (next + 1) % capacity;
            if (size < capacity) size++;
        }
    }

    /**
     * The newest events, newest first, decoded on access: an immutable list copied from the
     * ring when it is first read (the newest events then), not now.
     */
    List<Event> newestFirst(long monoToWallNs) {
        return new OnFirstRead(this, monoToWallNs);
    }

    /** An immutable copy of the ring now, newest first. */
    private synchronized Decoded copy(long monoToWallNs) {
        byte[] copy = new byte[size * SIZE];
        for (int i = 0; i < size; i++) {
            int slot = Math.floorMod(next - 1 - i, capacity);
            System.arraycopy(ring, slot * SIZE, copy, i * SIZE, SIZE);
        }
        return new Decoded(copy, size, monoToWallNs);
    }

    private static final class OnFirstRead extends AbstractList<Event> {
        private final RecentEvents from;
        private final long monoToWallNs;
        private volatile Decoded copy;

        OnFirstRead(RecentEvents from, long monoToWallNs) {
            this.from = from;
            this.monoToWallNs = monoToWallNs;
        }

        private Decoded copy() {
            Decoded c = copy;
            if (c == null) {
                synchronized (this) {
                    if ((c = copy) == null) copy = c = from.copy(monoToWallNs);
                }
            }
            return c;
        }

        @Override
        public Event get(int i) {
            return copy().get(i);
        }

        @Override
        public int size() {
            return copy().size();
        }
    }

    private static final class Decoded extends AbstractList<Event> {
        private final ByteBuffer bytes;
        private final int size;
        private final long monoToWallNs;

        Decoded(byte[] bytes, int size, long monoToWallNs) {
            this.bytes = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer()
                    .order(ByteOrder.LITTLE_ENDIAN);
            this.size = size;
            this.monoToWallNs = monoToWallNs;
        }

        @Override
        public Event get(int i) {
            if (i < 0 || i >= size) throw new IndexOutOfBoundsException(i);
            return EventDecoder.decode(bytes, i * SIZE, SIZE, monoToWallNs).event();
        }

        @Override
        public int size() {
            return size;
        }
    }
}
