package io.tcpulse.agent.host;

/** The process holding a socket: its pid and its name (/proc/PID/comm). */
public record Owner(int pid, String comm) {
}
