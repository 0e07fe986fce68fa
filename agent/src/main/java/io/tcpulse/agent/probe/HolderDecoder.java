package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Holder;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Decodes the holders walk: struct tcpulse_holder records (native/tcpulse.h). */
public final class HolderDecoder {
    private HolderDecoder() {}

    public static final int SIZE = 72;
    static final int SOCK_ID = 0, INO = 8, CGROUP_ID = 16, NETNS_COOKIE = 24, TGID = 32, FD = 36, NETNS = 40,
            FAMILY = 44, SPORT = 46, DPORT = 48, KIND = 50, STATE = 51, COMM = 56;
    static final int KIND_SOCKET = 1, KIND_NETNS_TASK = 2, KIND_NETNS_FILE = 3;

    /**
     * byInode: socket inode -> its holders, one per process (the lowest fd), in pid order.
     * namespaces: inode -> cookie (0: unknown) of every namespace a process lives in, holds
     * open (an nsfs file) or holds a socket of. complete: every process was seen (the
     * kernel's walk), so a socket not listed is held by none; a /proc scan may miss some.
     */
    public record Walk(Map<Long, List<Holder>> byInode, Map<Long, Long> namespaces, int records, boolean complete) {
        public Walk(Map<Long, List<Holder>> byInode, Map<Long, Long> namespaces, int records) {
            this(byInode, namespaces, records, true);
        }
    }

    public static Walk decode(ByteBuffer b, int n) {
        SocketIndex byInode = new SocketIndex(n);
        Map<Long, Long> namespaces = new HashMap<>();
        // records come grouped by process: the last process's name and namespace are reused
        String lastComm = null;
        long lastComm0 = 0, lastComm1 = 0;
        long lastNetns = -1, lastCookie = -1;
        for (int i = 0; i < n; i++) {
            int at = i * SIZE;
            int kind = b.get(at + KIND) & 0xff;
            if (kind != KIND_SOCKET && kind != KIND_NETNS_TASK && kind != KIND_NETNS_FILE) continue; // a newer library's
            long netns = Integer.toUnsignedLong(b.getInt(at + NETNS));
            long cookie = b.getLong(at + NETNS_COOKIE);
            if (netns != lastNetns || cookie != lastCookie) {
                namespaces.merge(netns, cookie, Math::max);
                lastNetns = netns;
                lastCookie = cookie;
            }
            if (kind != KIND_SOCKET) continue;
            long comm0 = b.getLong(at + COMM), comm1 = b.getLong(at + COMM + 8);
            if (lastComm == null || comm0 != lastComm0 || comm1 != lastComm1) {
                lastComm = comm(b, at + COMM);
                lastComm0 = comm0;
                lastComm1 = comm1;
            }
            byInode.add(b.getLong(at + INO), b.getInt(at + TGID), lastComm, b.getInt(at + FD), b.getLong(at + CGROUP_ID));
        }
        return new Walk(byInode, namespaces, n);
    }

    /** Each socket's holders by pid, the way ss -p lists them. */
    public static void inPidOrder(Map<Long, List<Holder>> byInode) {
        for (List<Holder> l : byInode.values()) {
            if (l.size() > 1) l.sort((x, y) -> Integer.compare(x.pid(), y.pid()));
        }
    }

    /*
     * Socket inode -> holders, read-only. A walk lists every descriptor of the host (100,000
     * and more) but only a few sockets are ever asked about (listeners, CLOSE_WAIT): records
     * go into flat arrays with an open-addressing index, and a socket's holders become
     * objects when asked for. The walk runs every 10-30 s, mostly before the JIT has
     * compiled this: per record a few array stores, no map entry, no boxing.
     */
    private static final class SocketIndex extends AbstractMap<Long, List<Holder>> {
        private final long[] cgroup;
        private final int[] pid, fd, next; // next: the record before it of the same inode, -1: none
        private final String[] comm;
        private final long[] slotIno;
        private final int[] slotLast; // the inode's last record, -1: empty slot
        private int records, sockets;

        SocketIndex(int capacity) {
            cgroup = new long[capacity];
            pid = new int[capacity];
            fd = new int[capacity];
            next = new int[capacity];
            comm = new String[capacity];
            int slots = Integer.highestOneBit(Math.max(16, capacity * 2 - 1)) << 1;
            slotIno = new long[slots];
            slotLast = new int[slots];
            Arrays.fill(slotLast, -1);
        }

        void add(long inode, int p, String c, int f, long cg) {
            int r = records++;
            pid[r] = p;
            comm[r] = c;
            fd[r] = f;
            cgroup[r] = cg;
            int slot = slot(inode);
            if (slotLast[slot] < 0) {
                slotIno[slot] = inode;
                sockets++;
            }
            next[r] = slotLast[slot];
            slotLast[slot] = r;
        }

        private int slot(long inode) {
            int mask = slotIno.length - 1;
            int i = (int) ((inode * 0x9E3779B97F4A7C15L) >>> 32) & mask;
            while (slotLast[i] >= 0 && slotIno[i] != inode) i = (i + 1) & mask;
            return i;
        }

        /** One holder per process (its lowest fd), in pid order; null: no process holds it. */
        @Override
        public List<Holder> get(Object key) {
            if (!(key instanceof Long inode)) return null;
            int r = slotLast[slot(inode)];
            if (r < 0) return null;
            List<Holder> out = new ArrayList<>(1);
            for (; r >= 0; r = next[r]) {
                int same = indexOfPid(out, pid[r]);
                Holder h = new Holder(pid[r], comm[r], fd[r], cgroup[r]);
                if (same < 0) out.add(h);
                else if (Integer.compareUnsigned(h.fd(), out.get(same).fd()) < 0) out.set(same, h);
            }
            out.sort((x, y) -> Integer.compare(x.pid(), y.pid()));
            return List.copyOf(out);
        }

        @Override
        public boolean containsKey(Object key) {
            return key instanceof Long inode && slotLast[slot(inode)] >= 0;
        }

        @Override
        public int size() {
            return sockets;
        }

        @Override
        public Set<Entry<Long, List<Holder>>> entrySet() {
            Map<Long, List<Holder>> all = new HashMap<>(Math.max(16, sockets * 4 / 3));
            for (int i = 0; i < slotIno.length; i++) if (slotLast[i] >= 0) all.put(slotIno[i], get(slotIno[i]));
            return Collections.unmodifiableMap(all).entrySet();
        }
    }

    private static int indexOfPid(List<Holder> l, int pid) {
        for (int i = 0; i < l.size(); i++) if (l.get(i).pid() == pid) return i;
        return -1;
    }

    private static String comm(ByteBuffer b, int at) {
        int len = 0;
        while (len < 16 && b.get(at + len) != 0) len++;
        byte[] s = new byte[len];
        for (int i = 0; i < len; i++) s[i] = b.get(at + i);
        return new String(s, StandardCharsets.UTF_8);
    }
}
