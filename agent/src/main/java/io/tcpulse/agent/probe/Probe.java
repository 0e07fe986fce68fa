package io.tcpulse.agent.probe;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The loaded BPF probe: a handle on libtcpulse. Not thread-safe: one thread polls
 * and walks (the walk enters other network namespaces on the calling thread).
 */
public final class Probe implements AutoCloseable {

    /** Options of tcpulse__open (struct tcpulse_opts). */
    public record Options(int ringBytes, long maxEventsPerSec, int wakeupBytes, boolean bench) {
        public static Options defaults() { return new Options(0, 0, 0, false); }
    }

    public static final int STAT_SEEN = 0, STAT_SUBMITTED = 1, STAT_LOST = 2, STAT_SAMPLED_OUT = 3,
            STAT_MAP_FULL = 4, STAT_WAKEUPS = 5, STAT_MAX = 8;

    private Pointer handle;
    private final Memory statsBuf = new Memory(8L * STAT_MAX);
    private Memory transitionsBuf = new Memory((long) EventDecoder.TRANSITION_SIZE * 1024);
    private Memory walkBuf = new Memory((long) EventDecoder.SOCK_SIZE * 4096);

    private Probe(Pointer handle) { this.handle = handle; }

    /** Null when the probe can be opened here (library loads, ABI matches), else the reason. */
    public static String unavailabilityCause() {
        Throwable failure = TcpulseNative.loadFailure();
        if (failure != null) return "libtcpulse could not be loaded: " + failure.getMessage();
        int abi = TcpulseNative.tcpulse__abi_version();
        if (abi != 1) return "libtcpulse ABI " + abi + " does not match the agent's ABI 1: rebuild both";
        if (TcpulseNative.tcpulse__sizeof_event() != EventDecoder.EVENT_SIZE
                || TcpulseNative.tcpulse__sizeof_sock() != EventDecoder.SOCK_SIZE
                || TcpulseNative.tcpulse__sizeof_transition() != EventDecoder.TRANSITION_SIZE) {
            return "libtcpulse record sizes (event " + TcpulseNative.tcpulse__sizeof_event()
                    + ", sock " + TcpulseNative.tcpulse__sizeof_sock() + ") do not match the agent's decoder";
        }
        return null;
    }

    public static boolean isAvailable() { return unavailabilityCause() == null; }

    /** Loads and attaches the BPF programs. */
    public static Probe open(Options o) throws ProbeException {
        String cause = unavailabilityCause();
        if (cause != null) throw new ProbeException(cause);
        int sz = TcpulseNative.tcpulse__sizeof_opts();
        Memory opts = new Memory(sz);
        opts.clear();
        opts.setLong(0, sz);
        opts.setInt(8, o.ringBytes());
        opts.setInt(12, (int) Math.min(o.maxEventsPerSec(), 0xffff_ffffL));
        opts.setInt(16, o.wakeupBytes());
        opts.setInt(20, o.bench() ? 1 : 0);
        IntByReference err = new IntByReference();
        Pointer h = TcpulseNative.tcpulse__open(opts, err);
        if (h == null) throw new ProbeException("tcpulse__open", -err.getValue(), lastError());
        return new Probe(h);
    }

    /** libbpf's last words: the verifier log tail after a failed load. */
    static String lastError() {
        byte[] buf = new byte[4096];
        TcpulseNative.tcpulse__last_error(buf, buf.length);
        int n = 0;
        while (n < buf.length && buf[n] != 0) n++;
        String s = new String(buf, 0, n, StandardCharsets.UTF_8).strip();
        // the last lines carry the reason
        String[] lines = s.split("\n");
        return String.join(" | ", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - 4), lines.length));
    }

    /** Copies up to buf.size()/EVENT_SIZE events into buf; waits up to timeoutMs when none are ready. */
    public int poll(Memory buf, int timeoutMs) throws ProbeException {
        int n = TcpulseNative.tcpulse__poll(live(), buf, buf.size(), timeoutMs);
        if (n < 0 && n != -Errno.EINTR) throw new ProbeException("tcpulse__poll", -n, null);
        return Math.max(n, 0);
    }

    public long[] stats() throws ProbeException {
        int n = TcpulseNative.tcpulse__stats(live(), statsBuf, STAT_MAX);
        if (n < 0) throw new ProbeException("tcpulse__stats", -n, null);
        return statsBuf.getLongArray(0, STAT_MAX);
    }

    /** Exact transition counters since load, per namespace. */
    public List<TransitionCount> transitions() throws ProbeException {
        int max = (int) (transitionsBuf.size() / EventDecoder.TRANSITION_SIZE);
        int n = TcpulseNative.tcpulse__transitions(live(), transitionsBuf, max);
        if (n < 0) throw new ProbeException("tcpulse__transitions", -n, null);
        if (n == max) { // may be more: grow and read again
            transitionsBuf = new Memory(transitionsBuf.size() * 4);
            return transitions();
        }
        ByteBuffer b = transitionsBuf.getByteBuffer(0, (long) n * EventDecoder.TRANSITION_SIZE)
                .order(ByteOrder.LITTLE_ENDIAN);
        List<TransitionCount> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int at = i * EventDecoder.TRANSITION_SIZE;
            TcpState from = TcpState.ofKernel(b.get(at + 4) & 0xff), to = TcpState.ofKernel(b.get(at + 5) & 0xff);
            if (from == null || to == null) continue; // a kernel with new states: nothing to count them as
            out.add(new TransitionCount(Integer.toUnsignedLong(b.getInt(at)), from, to, b.get(at + 6) != 0,
                    b.getLong(at + 8)));
        }
        return out;
    }

    /**
     * Walks every TCP socket of a namespace (netnsPath null: the agent's own) and returns
     * the raw records, EventDecoder.SOCK_SIZE bytes each.
     */
    public ByteBuffer walk(String netnsPath) throws ProbeException {
        LongByReference needed = new LongByReference();
        for (int attempt = 0; ; attempt++) {
            int n = TcpulseNative.tcpulse__snapshot(live(), netnsPath, walkBuf, walkBuf.size(), needed);
            if (n >= 0) {
                return walkBuf.getByteBuffer(0, (long) n * EventDecoder.SOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            }
            if (n != -Errno.ENOSPC || attempt > 3) {
                throw new ProbeException("tcpulse__snapshot(" + (netnsPath == null ? "own namespace" : netnsPath) + ")",
                        -n, n == -Errno.ENOSPC ? null : lastError());
            }
            // more sockets than room: grow with headroom, walk again
            walkBuf = new Memory(Math.max(walkBuf.size() * 2, needed.getValue() + needed.getValue() / 2));
        }
    }

    /** Benchmark: the kernel generates n synthetic events on the calling CPU. */
    public void benchGenerate(int n) throws ProbeException {
        int r = TcpulseNative.tcpulse__bench_generate(live(), n);
        if (r < 0) throw new ProbeException("tcpulse__bench_generate", -r, null);
    }

    public int ringCount() { return TcpulseNative.tcpulse__ring_count(live()); }

    /** Events the kernel skipped because the program was already running on that CPU. */
    public long recursionMisses() {
        long n = TcpulseNative.tcpulse__recursion_misses(live());
        return Math.max(n, 0);
    }

    private Pointer live() {
        if (handle == null) throw new IllegalStateException("probe closed");
        return handle;
    }

    @Override
    public void close() {
        if (handle != null) {
            TcpulseNative.tcpulse__close(handle);
            handle = null;
        }
    }
}
