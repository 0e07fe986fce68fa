package io.tcpulse.agent.model;

/**
 * Exact count of a state change in one namespace, from the kernel's per-CPU counters.
 * derived: a ->CLOSE that handed the socket to a timewait mini-socket; to is its substate.
 */
public record TransitionCount(long netns, TcpState from, TcpState to, boolean derived, long count) {
}
