package io.tcpulse.agent.aggregate;

import java.util.HashMap;
import java.util.Map;

/**
 * Which namespace an inode stands for. The kernel hands a freed namespace inode to the
 * next namespace (containers come and go by the thousand), so state kept per inode from
 * events (destinations, latency, RST peers, listeners' connections) would pass from a dead
 * namespace to its successor. Events carry the low 32 bits of the namespace's cookie, which
 * is never reused: a new one at a known inode means the old namespace is gone.
 */
final class NetnsGenerations {
    enum Verdict { SAME, REPLACED, STALE }

    /** Cookies a namespace's inode had before, kept to recognise their late events. */
    private static final int RETIRED_PER_INODE = 4;

    private final Map<Long, Integer> current = new HashMap<>();
    private final Map<Long, int[]> retired = new HashMap<>();

    /**
     * SAME: the event belongs to what is kept for netns (or says nothing: cookie 0, a
     * kernel without namespace cookies). REPLACED: a new namespace holds the inode, what
     * was kept is the dead one's. STALE: a late event of a namespace already replaced.
     */
    Verdict check(long netns, int cookieLo) {
        if (cookieLo == 0) return Verdict.SAME;
        Integer known = current.putIfAbsent(netns, cookieLo);
        if (known == null || known == cookieLo) return Verdict.SAME;
        int[] old = retired.get(netns);
        if (old != null) {
            for (int c : old) if (c == cookieLo) return Verdict.STALE;
        }
        int[] next = new int[RETIRED_PER_INODE];
        next[0] = known;
        if (old != null) System.arraycopy(old, 0, next, 1, RETIRED_PER_INODE - 1);
        retired.put(netns, next);
        current.put(netns, cookieLo);
        return Verdict.REPLACED;
    }

    /** The namespace is gone (evicted): nothing left to tell apart. */
    void forget(long netns) {
        current.remove(netns);
        retired.remove(netns);
    }
}
