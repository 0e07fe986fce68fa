package io.tcpulse.agent.probe;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;

/**
 * JNA direct mapping of libtcpulse.so (native/tcpulse.h). Package-private: only
 * {@link Probe} calls it, turning negative errno into exceptions.
 */
final class TcpulseNative {
    private TcpulseNative() {}

    private static final Throwable LOAD_FAILURE;
    static {
        Throwable failure = null;
        try {
            // JNA extracts linux-x86-64/libtcpulse.so from the jar
            Native.register(TcpulseNative.class, "tcpulse");
        } catch (Throwable t) {
            failure = t;
        }
        LOAD_FAILURE = failure;
    }

    /** Null when the library loaded, else why not. */
    static Throwable loadFailure() { return LOAD_FAILURE; }

    static native int tcpulse__abi_version();
    static native int tcpulse__sizeof_opts();
    static native int tcpulse__layout(byte[] buf, long size);
    static native int tcpulse__prog_stats(Pointer t, Pointer out, int max);
    static native int tcpulse__run_stats(Pointer t);
    static native Pointer tcpulse__open(Pointer opts, IntByReference err);
    static native int tcpulse__poll(Pointer t, Pointer buf, long bufSize, int timeoutMs, int flags);
    static native int tcpulse__stats(Pointer t, Pointer out, int n);
    static native int tcpulse__transitions(Pointer t, Pointer out, int max);
    static native int tcpulse__snapshot(Pointer t, String netnsPath, Pointer buf, long bufSize, LongByReference needed);
    static native int tcpulse__snapshot_listeners(Pointer t, String netnsPath, Pointer buf, long bufSize, LongByReference needed);
    static native int tcpulse__holders(Pointer t, Pointer buf, long bufSize, LongByReference needed);
    static native int tcpulse__bench_generate(Pointer t, int n);
    static native int tcpulse__last_error(byte[] buf, long size);
    static native int tcpulse__port_counters(Pointer t, Pointer out, int max);
    static native int tcpulse__features(Pointer t);
    static native int tcpulse__feature(Pointer t, int i, byte[] name, long nameSize, byte[] what, long whatSize,
            byte[] reason, long reasonSize);
    static native int tcpulse__read_in_netns(String netnsPath, String file, Pointer buf, long size);
    static native int tcpulse__netns_cookie(String netnsPath, LongByReference cookie);
    static native int tcpulse__forget_netns(Pointer t, int netns, long netnsCookie);
    static native int tcpulse__ring_count(Pointer t);
    static native int tcpulse__detach(Pointer t);
    static native void tcpulse__close(Pointer t);
}
