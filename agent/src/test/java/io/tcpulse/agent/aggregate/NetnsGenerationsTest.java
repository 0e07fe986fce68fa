package io.tcpulse.agent.aggregate;

import org.junit.jupiter.api.Test;

import static io.tcpulse.agent.aggregate.NetnsGenerations.Verdict.*;
import static org.junit.jupiter.api.Assertions.*;

/** An inode that passes from a dead namespace to a new one: the cookie tells them apart. */
class NetnsGenerationsTest {
    @Test
    void aNewCookieAtAKnownInodeReplacesAndTheOldOnesLateEventsAreStale() {
        NetnsGenerations g = new NetnsGenerations();
        assertEquals(SAME, g.check(4026532001L, 7));
        assertEquals(SAME, g.check(4026532001L, 7));
        assertEquals(SAME, g.check(4026532002L, 9), "another inode is another namespace");
        assertEquals(REPLACED, g.check(4026532001L, 8));
        assertEquals(SAME, g.check(4026532001L, 8));
        assertEquals(STALE, g.check(4026532001L, 7), "a late event of the dead namespace");
        assertEquals(REPLACED, g.check(4026532001L, 10));
        assertEquals(STALE, g.check(4026532001L, 8));
        assertEquals(STALE, g.check(4026532001L, 7));
    }

    @Test
    void noCookieSaysNothingAndAForgottenInodeStartsOver() {
        NetnsGenerations g = new NetnsGenerations();
        assertEquals(SAME, g.check(4026532001L, 0), "a kernel without namespace cookies");
        assertEquals(SAME, g.check(4026532001L, 5));
        assertEquals(SAME, g.check(4026532001L, 0));
        g.forget(4026532001L);
        assertEquals(SAME, g.check(4026532001L, 6));
        assertEquals(SAME, g.check(4026532001L, 6));
    }
}
