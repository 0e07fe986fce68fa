package io.tcpulse.agent.probe;

import io.tcpulse.agent.model.Holder;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
        Map<Long, List<Holder>> byInode = new HashMap<>(Math.max(16, n * 4 / 3));
        Map<Long, Long> namespaces = new HashMap<>();
        // records come grouped by process: the last process's name and namespace are reused
        Holder last = null;
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
            int pid = b.getInt(at + TGID);
            String comm = last != null && last.pid() == pid && sameComm(b, at + COMM, last.comm()) ? last.comm() : comm(b, at + COMM);
            Holder h = new Holder(pid, comm, b.getInt(at + FD), b.getLong(at + CGROUP_ID));
            last = h;
            long ino = b.getLong(at + INO);
            List<Holder> l = byInode.putIfAbsent(ino, List.of(h)); // most sockets have one holder
            if (l == null) continue;
            if (!(l instanceof ArrayList)) byInode.put(ino, l = new ArrayList<>(l));
            int same = indexOfPid(l, h.pid());
            if (same < 0) l.add(h);
            else if (Integer.compareUnsigned(h.fd(), l.get(same).fd()) < 0) l.set(same, h);
        }
        inPidOrder(byInode);
        return new Walk(byInode, namespaces, n);
    }

    /** Each socket's holders by pid, the way ss -p lists them. */
    public static void inPidOrder(Map<Long, List<Holder>> byInode) {
        for (List<Holder> l : byInode.values()) {
            if (l.size() > 1) l.sort((x, y) -> Integer.compare(x.pid(), y.pid()));
        }
    }

    private static int indexOfPid(List<Holder> l, int pid) {
        for (int i = 0; i < l.size(); i++) if (l.get(i).pid() == pid) return i;
        return -1;
    }

    private static boolean sameComm(ByteBuffer b, int at, String comm) {
        if (comm.length() > 16) return false;
        for (int i = 0; i < 16; i++) {
            int c = b.get(at + i) & 0xff;
            if (i == comm.length()) return c == 0;
            if (c != comm.charAt(i)) return false; // a non-ASCII name decodes afresh
        }
        return comm.length() == 16;
    }

    private static String comm(ByteBuffer b, int at) {
        int len = 0;
        while (len < 16 && b.get(at + len) != 0) len++;
        byte[] s = new byte[len];
        for (int i = 0; i < len; i++) s[i] = b.get(at + i);
        return new String(s, StandardCharsets.UTF_8);
    }
}
