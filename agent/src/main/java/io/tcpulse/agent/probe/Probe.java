package io.tcpulse.agent.probe;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.tcpulse.agent.probe.EventDecoder.PROG_STAT_SIZE;
import static io.tcpulse.agent.probe.EventDecoder.PS_FEATURE;
import static io.tcpulse.agent.probe.EventDecoder.PS_NAME;
import static io.tcpulse.agent.probe.EventDecoder.PS_RECURSION_MISSES;
import static io.tcpulse.agent.probe.EventDecoder.PS_RUNS;
import static io.tcpulse.agent.probe.EventDecoder.PS_RUN_NS;

/**
 * The loaded BPF probe: a handle on libtcpulse. Not thread-safe: one thread polls
 * and walks (the walk enters other network namespaces on the calling thread). Only
 * {@link #detach()} may be called from another thread while that one runs; {@link #close()}
 * only once it is done.
 */
public final class Probe implements AutoCloseable {

    /** Options of tcpulse__open (struct tcpulse_opts); disabledFeatures by name (see {@link #featureNames}). */
    public record Options(int ringBytes, long maxEventsPerSec, int wakeupBytes, boolean bench,
                          java.util.Set<String> disabledFeatures, boolean runStats) {
        public Options(int ringBytes, long maxEventsPerSec, int wakeupBytes, boolean bench) {
            this(ringBytes, maxEventsPerSec, wakeupBytes, bench, java.util.Set.of(), false);
        }

        public Options(int ringBytes, long maxEventsPerSec, int wakeupBytes, boolean bench, java.util.Set<String> disabledFeatures) {
            this(ringBytes, maxEventsPerSec, wakeupBytes, bench, disabledFeatures, false);
        }

        public static Options defaults() { return new Options(0, 0, 0, false); }
    }

    public static final int STAT_SEEN = 0, STAT_SUBMITTED = 1, STAT_LOST = 2, STAT_SAMPLED_OUT = 3,
            STAT_MAP_FULL = 4, STAT_WAKEUPS = 5, STAT_REMEMBERED = 6, STAT_TWIN_HANDLED = 7,
            STAT_MAP_FULL_FIRST = 8, STAT_WAKEUPS_ASLEEP = 12, STAT_MAX = 16;
    /** tcpulse__poll: the first event submitted while it waits wakes it. */
    static final int POLL_WAKE_ON_EVENT = 1;
    /** The maps whose full inserts are counted apart, in the order of TCPULSE_STAT_MAP_FULL_* from 8. */
    public static final java.util.List<String> MAP_FULL_MAPS = java.util.List.of("transitions", "port_counters",
            "listen_owners", "sk_infos");

    /* struct tcpulse_opts: its fields, and its flags */
    static final int OPTS_SZ = 0, OPTS_RING_BYTES = 8, OPTS_MAX_EVENTS_PER_SEC = 12, OPTS_WAKEUP_BYTES = 16, OPTS_FLAGS = 20,
            OPTS_DISABLED_FEATURES = 24;
    static final int OPT_BENCH = 0x1, OPT_RUN_STATS = 0x2;
    static final int PROG_STATS_MAX = 32;

    private volatile Pointer handle;
    private final Memory progStatsBuf = new Memory((long) PROG_STAT_SIZE * PROG_STATS_MAX);
    private List<String> featureNames;
    private final Memory statsBuf = new Memory(8L * STAT_MAX);
    private Memory transitionsBuf = new Memory((long) EventDecoder.TRANSITION_SIZE * 1024);
    private Memory portBuf = new Memory((long) EventDecoder.PORT_COUNT_SIZE * 1024);
    private Map<Long, Long> liveCookies = Map.of();
    /* counter reads so far; when the live cookies were set (the walk's own reads count as at that time) */
    private long reads, liveSetAt;
    /* (inode, cookie) -> the read that first met it: a cookie first met after the walk is a namespace born since */
    private final Map<Map.Entry<Long, Long>, Long> firstRead = new HashMap<>();
    private final Map<Map.Entry<Long, Long>, Long> missingSince = new HashMap<>();
    /* (inode, cookie) of every namespace the counter reads met since the last forget */
    private final java.util.Set<Map.Entry<Long, Long>> seenNamespaces = new java.util.HashSet<>();
    private Memory walkBuf = new Memory((long) EventDecoder.SOCK_SIZE * 4096);
    /* counters of a namespace gone this long are deleted (see forgetGoneNamespaces) */
    private long forgetGraceMs = DEFAULT_FORGET_GRACE_MS;
    public static final long DEFAULT_FORGET_GRACE_MS = 60_000;

    private Probe(Pointer handle) { this.handle = handle; }

    /** Null when the probe can be opened here (library loads, ABI matches), else the reason. */
    public static String unavailabilityCause() {
        Throwable failure = TcpulseNative.loadFailure();
        if (failure != null) return "libtcpulse could not be loaded: " + failure.getMessage();
        return contractMismatch();
    }

    /**
     * Null when the loaded library lays out every record, enum and flag as this agent decodes
     * them (native/tcpulse.h: tcpulse__layout()), else each difference: a library from another
     * build, which would be decoded into wrong figures. The agent refuses to start on it.
     */
    public static String contractMismatch() {
        if (TcpulseNative.loadFailure() != null) return null; // no library: no probe, nothing to misread
        int abi = TcpulseNative.tcpulse__abi_version();
        if (abi != EventDecoder.ABI_VERSION) {
            return "libtcpulse ABI " + abi + " does not match the agent's ABI " + EventDecoder.ABI_VERSION
                    + ": install the agent and its library from one build";
        }
        List<String> diff = NativeContract.differences(NativeContract.expected(), NativeContract.ofLibrary());
        if (diff.isEmpty()) return null;
        return "libtcpulse lays out its records differently from this agent (" + String.join("; ", diff)
                + "): install the agent and its library from one build";
    }

    public static boolean isAvailable() { return unavailabilityCause() == null; }

    /** Loads and attaches the BPF programs. */
    public static Probe open(Options o) throws ProbeException {
        String cause = unavailabilityCause();
        if (cause != null) throw new ProbeException(cause);
        int sz = TcpulseNative.tcpulse__sizeof_opts();
        Memory opts = new Memory(sz);
        opts.clear();
        opts.setLong(OPTS_SZ, sz);
        opts.setInt(OPTS_RING_BYTES, o.ringBytes());
        opts.setInt(OPTS_MAX_EVENTS_PER_SEC, (int) Math.min(o.maxEventsPerSec(), 0xffff_ffffL));
        opts.setInt(OPTS_WAKEUP_BYTES, o.wakeupBytes());
        opts.setInt(OPTS_FLAGS, (o.bench() ? OPT_BENCH : 0) | (o.runStats() ? OPT_RUN_STATS : 0));
        opts.setInt(OPTS_DISABLED_FEATURES, featureBits(o.disabledFeatures()));
        IntByReference err = new IntByReference();
        Pointer h = TcpulseNative.tcpulse__open(opts, err);
        if (h == null) {
            // name the missing capability: a bare EPERM (and libbpf's guesses) leave the user guessing
            String missing = io.tcpulse.agent.host.Capabilities.current().explainProbeFailure();
            throw new ProbeException("tcpulse__open", -err.getValue(), missing != null ? missing : lastError());
        }
        return new Probe(h);
    }

    /** libbpf's last words: the verifier log tail after a failed load. */
    static String lastError() {
        byte[] buf = new byte[4096];
        TcpulseNative.tcpulse__last_error(buf, buf.length);
        String s = cString(buf).strip();
        // the last lines carry the reason
        String[] lines = s.split("\n");
        return String.join(" | ", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - 4), lines.length));
    }

    /**
     * Copies up to buf.size()/EVENT_SIZE events into buf; waits up to timeoutMs when none are
     * ready, until a ring holds a backlog or, with wakeOnEvent, until the first event.
     */
    public int poll(Memory buf, int timeoutMs, boolean wakeOnEvent) throws ProbeException {
        int n = TcpulseNative.tcpulse__poll(live(), buf, buf.size(), timeoutMs, wakeOnEvent ? POLL_WAKE_ON_EVENT : 0);
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
        ByteBuffer b = readCounters(false);
        // a transition may be counted in two places (the kernel's array slot and its hash): summed
        Map<TransitionCount, Long> sums = new LinkedHashMap<>();
        forEachCurrent(b, EventDecoder.TRANSITION_SIZE, at -> {
            TcpState from = TcpState.ofKernel(b.get(at + EventDecoder.TR_FROM) & 0xff), to = TcpState.ofKernel(b.get(at + EventDecoder.TR_TO) & 0xff);
            if (from == null || to == null) return; // a kernel with new states: nothing to count them as
            sums.merge(new TransitionCount(inodeAt(b, at), from, to, b.get(at + EventDecoder.TR_DERIVED) != 0, 0),
                    b.getLong(at + EventDecoder.TR_COUNT), Long::sum);
        });
        List<TransitionCount> out = new ArrayList<>(sums.size());
        sums.forEach((k, n) -> out.add(new TransitionCount(k.netns(), k.from(), k.to(), k.derived(), n)));
        return out;
    }

    /** The offset of each counter record of b that belongs to the namespace now holding its inode. */
    private void forEachCurrent(ByteBuffer b, int size, java.util.function.IntConsumer record) {
        Map<Long, Long> current = currentCookies(b, size);
        for (int at = 0; at + size <= b.limit(); at += size) {
            // skipped: an older namespace that had this inode
            if (b.getLong(at) == current.get(inodeAt(b, at))) record.accept(at);
        }
    }

    /**
     * Walks every TCP socket of a namespace (netnsPath null: the agent's own) and returns
     * the raw records, EventDecoder.SOCK_SIZE bytes each.
     */
    public ByteBuffer walk(String netnsPath) throws ProbeException {
        return walk(netnsPath, -1);
    }

    /* a walk that does not fit is walked again: room for this many records more than expected */
    static final long WALK_HEADROOM = 1024, WALK_HINT_MAX = 1 << 20;

    /**
     * The same with about how many records to expect (sockstat's count; -1: unknown), so
     * that the first walk of a large namespace fits at once instead of being walked twice.
     */
    public ByteBuffer walk(String netnsPath, long expected) throws ProbeException {
        if (expected > 0) {
            long want = (Math.min(expected, WALK_HINT_MAX) * 5 / 4 + WALK_HEADROOM) * EventDecoder.SOCK_SIZE;
            if (want > walkBuf.size()) walkBuf = new Memory(want);
        }
        return walk(netnsPath, false);
    }

    /**
     * The namespace's listeners alone: the kernel visits them before any other socket and
     * the walk ends there, so its cost does not grow with the connections.
     */
    public ByteBuffer walkListeners(String netnsPath) throws ProbeException {
        return walk(netnsPath, true);
    }

    private ByteBuffer walk(String netnsPath, boolean listenersOnly) throws ProbeException {
        LongByReference needed = new LongByReference();
        for (int attempt = 0; ; attempt++) {
            int n = listenersOnly
                    ? TcpulseNative.tcpulse__snapshot_listeners(live(), netnsPath, walkBuf, walkBuf.size(), needed)
                    : TcpulseNative.tcpulse__snapshot(live(), netnsPath, walkBuf, walkBuf.size(), needed);
            if (n >= 0) {
                return walkBuf.getByteBuffer(0, (long) n * EventDecoder.SOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            }
            if (n != -Errno.ENOSPC || attempt > 3) {
                throw new ProbeException((listenersOnly ? "tcpulse__snapshot_listeners(" : "tcpulse__snapshot(")
                        + (netnsPath == null ? "own namespace" : netnsPath) + ")", -n, n == -Errno.ENOSPC ? null : lastError());
            }
            // more sockets than room: grow with headroom, walk again
            walkBuf = new Memory(Math.max(walkBuf.size() * 2, needed.getValue() + needed.getValue() / 2));
        }
    }

    private Memory holdersBuf = new Memory((long) HolderDecoder.SIZE * 4096);

    /**
     * Every TCP socket a process holds and every namespace a process lives in or holds
     * open, host-wide (iter/task_file, iter/task); null when the socketHolders feature is
     * off (a kernel refused it, or turned off by configuration).
     */
    public HolderDecoder.Walk holders() throws ProbeException {
        LongByReference needed = new LongByReference();
        for (int attempt = 0; ; attempt++) {
            int n = TcpulseNative.tcpulse__holders(live(), holdersBuf, holdersBuf.size(), needed);
            if (n == -Errno.EOPNOTSUPP) return null;
            if (n >= 0) {
                return HolderDecoder.decode(holdersBuf.getByteBuffer(0, (long) n * HolderDecoder.SIZE)
                        .order(ByteOrder.LITTLE_ENDIAN), n);
            }
            if (n != -Errno.ENOSPC || attempt > 3) throw new ProbeException("tcpulse__holders", -n, null);
            // processes opened sockets meanwhile: grow with headroom, walk again
            holdersBuf = new Memory(Math.max(holdersBuf.size() * 2, needed.getValue() + needed.getValue() / 2));
        }
    }

    /** A per-(netns, local port) exact counter: listener overflows, SYN-ACK retransmits, RSTs. */
    public record PortCount(long netns, int port, int what, long count) {
        public static final int OVERFLOW = 1, SYNACK_RETRANS = 2, RESET_SENT = 3, RESET_RECV = 4;
    }


    public List<PortCount> portCounters() throws ProbeException {
        ByteBuffer b = readCounters(true);
        List<PortCount> out = new ArrayList<>();
        forEachCurrent(b, EventDecoder.PORT_COUNT_SIZE, at -> out.add(new PortCount(inodeAt(b, at),
                b.getShort(at + EventDecoder.PC_PORT) & 0xffff, b.get(at + EventDecoder.PC_WHAT) & 0xff, b.getLong(at + EventDecoder.PC_COUNT))));
        return out;
    }

    /**
     * Reads the transition or the per-port counters, growing the buffer until all fit.
     * Both record layouts start with the namespace cookie and inode; every pair read is
     * remembered for {@link #forgetGoneNamespaces}.
     */
    private ByteBuffer readCounters(boolean ports) throws ProbeException {
        int size = ports ? EventDecoder.PORT_COUNT_SIZE : EventDecoder.TRANSITION_SIZE;
        for (;;) {
            Memory buf = ports ? portBuf : transitionsBuf;
            int max = (int) (buf.size() / size);
            int n = ports ? TcpulseNative.tcpulse__port_counters(live(), buf, max)
                          : TcpulseNative.tcpulse__transitions(live(), buf, max);
            if (n < 0) throw new ProbeException(ports ? "tcpulse__port_counters" : "tcpulse__transitions", -n, null);
            if (n == max) { // may be more: grow and read again
                if (ports) portBuf = new Memory(buf.size() * 4);
                else transitionsBuf = new Memory(buf.size() * 4);
                continue;
            }
            ByteBuffer b = buf.getByteBuffer(0, (long) n * size).order(ByteOrder.LITTLE_ENDIAN);
            reads++;
            for (int at = 0; at < n * size; at += size) {
                Map.Entry<Long, Long> ns = Map.entry(inodeAt(b, at), b.getLong(at));
                seenNamespaces.add(ns);
                firstRead.putIfAbsent(ns, reads);
            }
            return b;
        }
    }

    /**
     * Per inode, the cookie whose counters count: a namespace first met after the last walk
     * (born since: it holds the inode now, though the walk saw another there), else the
     * cookie the walk saw alive, else the one met last (a namespace gone within the minute
     * before its counters are deleted). Cookies do not tell which namespace is newer: they
     * are handed out in per-CPU batches.
     */
    private Map<Long, Long> currentCookies(ByteBuffer b, int size) {
        // the walk's live cookie stands even where it has no record yet (the records of the
        // namespace before it do not count for it)
        Map<Long, Long> current = new HashMap<>(liveCookies);
        Map<Long, Long> rank = new HashMap<>();
        liveCookies.keySet().forEach(inode -> rank.put(inode, 1L << 40));
        // met first after the walk, in either counter map: born since, it holds the inode now
        firstRead.forEach((ns, first) -> {
            if (first > liveSetAt && (2L << 40) + first > rank.getOrDefault(ns.getKey(), -1L)) {
                rank.put(ns.getKey(), (2L << 40) + first);
                current.put(ns.getKey(), ns.getValue());
            }
        });
        // neither: the cookie met last
        for (int at = 0; at < b.limit(); at += size) {
            long inode = inodeAt(b, at), cookie = b.getLong(at);
            long first = firstRead.getOrDefault(Map.entry(inode, cookie), reads);
            if (first > rank.getOrDefault(inode, -1L)) {
                rank.put(inode, first);
                current.put(inode, cookie);
            }
        }
        return current;
    }

    private static long inodeAt(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at + EventDecoder.TR_NETNS)); // same place in both records
    }

    /**
     * The namespaces alive now, inode -> cookie: counters of an older namespace that had
     * the same inode are left out. Inodes not listed fall back to the cookie met last.
     */
    public void liveNamespaces(Map<Long, Long> inodeToCookie) {
        // cookie 0: not known (no SO_NETNS_COOKIE before Linux 5.14); the cookie met last stands in
        Map<Long, Long> known = new HashMap<>(inodeToCookie);
        known.values().removeIf(c -> c == 0);
        this.liveCookies = Map.copyOf(known);
        this.liveSetAt = reads + 2; // the walk reads both counter maps right after
    }

    /**
     * Deletes kernel counters of namespaces gone for a minute: not seen alive, or their
     * inode held by another namespace all that time. Not at once: the live cookies come
     * from the last walk, and a namespace born since may hold an inode the walk saw
     * with its predecessor's cookie. Returns entries deleted.
     */
    public int forgetGoneNamespaces(java.util.Set<Long> aliveInodes, long nowMs) {
        int deleted = 0;
        for (Map.Entry<Long, Long> p : seenNamespaces) {
            long inode = p.getKey(), cookie = p.getValue();
            Long liveCookie = liveCookies.get(inode);
            boolean superseded = liveCookie != null && liveCookie != cookie;
            boolean gone = superseded || (!aliveInodes.contains(inode) && inode != 0);
            if (gone) missingSince.putIfAbsent(p, nowMs);
            else missingSince.remove(p);
            if (gone && nowMs - missingSince.get(p) >= forgetGraceMs) {
                int n = TcpulseNative.tcpulse__forget_netns(live(), (int) inode, cookie);
                if (n > 0) deleted += n;
                missingSince.remove(p);
            }
        }
        firstRead.keySet().retainAll(seenNamespaces);
        seenNamespaces.clear(); // the next reads see again what is left
        return deleted;
    }

    /** How long a namespace must have been gone before its counters are deleted (tests shorten it). */
    public void forgetGraceMillis(long ms) {
        if (ms < 0) throw new IllegalArgumentException("the netns forget grace must not be negative, got " + ms + " ms");
        this.forgetGraceMs = ms;
    }

    /** Inodes of the namespaces the counter reads met since the last {@link #forgetGoneNamespaces}. */
    public java.util.Set<Long> seenNamespaceInodes() {
        java.util.Set<Long> out = new java.util.HashSet<>();
        for (Map.Entry<Long, Long> p : seenNamespaces) out.add(p.getKey());
        out.addAll(missingSince.keySet().stream().map(Map.Entry::getKey).toList());
        return out;
    }

    /** The never-reused cookie of the namespace at netnsPath (null: the caller's), or 0 when unknown. */
    public static long netnsCookie(String netnsPath) {
        LongByReference cookie = new LongByReference();
        return TcpulseNative.tcpulse__netns_cookie(netnsPath, cookie) == 0 ? cookie.getValue() : 0;
    }

    /** What the probe does on this kernel: every feature, on or off with the kernel's reason. */
    public List<ProbeFeature> features() {
        List<ProbeFeature> out = new ArrayList<>();
        for (int i = 0; ; i++) {
            ProbeFeature f = feature(live(), i);
            if (f == null) return out;
            out.add(f);
        }
    }

    /** The feature names the library knows, in its order: what Options.disabledFeatures may name. */
    public static List<String> featureNames() {
        List<String> out = new ArrayList<>();
        if (TcpulseNative.loadFailure() != null) return out;
        for (int i = 0; ; i++) {
            ProbeFeature f = feature(null, i);
            if (f == null) return out;
            out.add(f.name());
        }
    }

    private static ProbeFeature feature(Pointer handle, int i) {
        byte[] name = new byte[64], what = new byte[256], reason = new byte[1024];
        int on = TcpulseNative.tcpulse__feature(handle, i, name, name.length, what, what.length, reason, reason.length);
        if (on < 0) return null;
        return new ProbeFeature(cString(name), on == 1, cString(what), cString(reason));
    }

    private static int featureBits(java.util.Set<String> names) {
        List<String> known = featureNames();
        int bits = 0;
        for (String n : names) {
            int i = known.indexOf(n);
            if (i < 0) throw new IllegalArgumentException("unknown probe feature " + n + "; known: " + String.join(", ", known));
            bits |= 1 << i;
        }
        return bits;
    }

    private static String cString(byte[] buf) {
        int n = 0;
        while (n < buf.length && buf[n] != 0) n++;
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }

    /**
     * Reads a file as seen from a network namespace (netnsPath null: the caller's), e.g.
     * /proc/thread-self/net/netstat or /proc/sys/net/ipv4/tcp_syncookies.
     */
    public static String readInNetns(String netnsPath, String file) throws ProbeException {
        if (TcpulseNative.loadFailure() != null) throw new ProbeException("libtcpulse not loaded");
        Memory buf = READ_BUF.get();
        while (true) {
            int n = TcpulseNative.tcpulse__read_in_netns(netnsPath, file, buf, buf.size());
            if (n < 0) {
                throw new ProbeException("read " + file + " in " + (netnsPath == null ? "the agent's namespace" : netnsPath), -n, null);
            }
            if (n < buf.size() - 1) return new String(buf.getByteArray(0, n), StandardCharsets.UTF_8);
            buf = new Memory(buf.size() * 2); // filled: the file may go on, read it again whole
            READ_BUF.set(buf);
        }
    }

    /* reused: these files are read a few times a second, a fresh buffer each time was the idle agent's largest allocation */
    private static final ThreadLocal<Memory> READ_BUF = ThreadLocal.withInitial(() -> new Memory(16 * 1024));

    /** Benchmark: the kernel generates n synthetic events on the calling CPU. */
    public void benchGenerate(int n) throws ProbeException {
        int r = TcpulseNative.tcpulse__bench_generate(live(), n);
        if (r < 0) throw new ProbeException("tcpulse__bench_generate", -r, null);
    }

    public int ringCount() { return TcpulseNative.tcpulse__ring_count(live()); }

    /**
     * The attached programs' costs (struct tcpulse_prog_stat). Read before {@link #stats()}
     * when the two are compared: a miss counted after this read may have its twin's handling
     * counted in that one, never the reverse.
     */
    public List<io.tcpulse.agent.model.ProgramCost> programCosts() throws ProbeException {
        int n = TcpulseNative.tcpulse__prog_stats(live(), progStatsBuf, PROG_STATS_MAX);
        if (n < 0) throw new ProbeException("tcpulse__prog_stats", -n, null);
        if (featureNames == null) featureNames = featureNames();
        ByteBuffer b = progStatsBuf.getByteBuffer(0, (long) n * PROG_STAT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        List<io.tcpulse.agent.model.ProgramCost> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int at = i * PROG_STAT_SIZE;
            byte[] name = new byte[PS_RUNS - PS_NAME];
            b.get(at + PS_NAME, name);
            int f = b.getInt(at + PS_FEATURE);
            out.add(new io.tcpulse.agent.model.ProgramCost(cString(name), f >= 0 && f < featureNames.size() ? featureNames.get(f) : "?",
                    b.getLong(at + PS_RUNS), b.getLong(at + PS_RUN_NS), b.getLong(at + PS_RECURSION_MISSES)));
        }
        return out;
    }

    /** 1 when the kernel counts run time, 0 when it does not, -errno when asking it to was refused. */
    public int runStats() { return TcpulseNative.tcpulse__run_stats(live()); }

    private Pointer live() {
        if (handle == null) throw new IllegalStateException("probe closed");
        return handle;
    }

    /**
     * Stops the kernel running the programs (no more events or counts); the rings, maps and
     * walks stay usable, so the thread that polls may still be finishing a call. Returns how
     * many programs were detached; safe from any thread, any number of times.
     */
    public int detach() {
        Pointer h = handle;
        return h == null ? 0 : Math.max(0, TcpulseNative.tcpulse__detach(h));
    }

    /** Frees the handle; the caller makes sure no other thread is in a call on it. */
    @Override
    public void close() {
        if (handle != null) {
            TcpulseNative.tcpulse__close(handle);
            handle = null;
        }
    }
}
