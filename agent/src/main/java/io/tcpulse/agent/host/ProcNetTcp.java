package io.tcpulse.agent.host;

import io.tcpulse.agent.model.SocketRecord;
import io.tcpulse.agent.model.TcpState;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Parser of /proc/net/tcp and /proc/net/tcp6 (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c).
 *
 * <p>The kernel prints three kinds of line. Full sockets carry 17 fields or more. Request
 * sockets (get_openreq4/6) and timewait mini-sockets (get_timewait4/6_sock) stop after
 * the refcount and the pointer: 12 fields, inode 0. A request socket shows state 03
 * SYN_RECV; a timewait sock shows its substate, TIME_WAIT or FIN_WAIT2. The short form is
 * what tells a timewait FIN_WAIT2 from an orphaned full FIN_WAIT2 socket, whose inode is
 * 0 as well.
 *
 * <p>Not in these files, so 0 in the records: the accept queue limit, the SYN queue length
 * and drops of listeners, socket cookies, owners.
 */
public final class ProcNetTcp {

    /** Sockets read and the number of lines skipped as malformed. */
    public record Parsed(List<SocketRecord> sockets, int malformed) {}

    private static final int F_LOCAL = 1, F_REMOTE = 2, F_STATE = 3, F_QUEUES = 4, F_TIMER = 5,
            F_UID = 7, F_INODE = 9;
    private static final int MIN_FIELDS = F_INODE + 1;
    private static final int FULL_SOCKET_FIELDS = 17;
    private static final int TIMER_TIMEWAIT = 3;
    /** tm->when is printed in clock ticks (USER_HZ, 100 on every Linux ABI). */
    private static final int MILLIS_PER_TICK = 10;
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private ProcNetTcp() {}

    /** Reads one file (e.g. /proc/PID/net/tcp6) in one go: procfs builds it at open. */
    public static Parsed read(long netns, Path file) throws IOException {
        return parse(netns, Files.readString(file, StandardCharsets.US_ASCII));
    }

    public static Parsed parse(long netns, String text) {
        try {
            return parse(netns, new BufferedReader(new StringReader(text)));
        } catch (IOException e) {
            throw new IllegalStateException("StringReader cannot fail", e);
        }
    }

    public static Parsed parse(long netns, BufferedReader reader) throws IOException {
        List<SocketRecord> sockets = new ArrayList<>();
        int malformed = 0;
        for (String line; (line = reader.readLine()) != null; ) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("sl")) continue; // blank or header
            SocketRecord r = parseLine(netns, trimmed);
            if (r == null) malformed++;
            else sockets.add(r);
        }
        return new Parsed(List.copyOf(sockets), malformed);
    }

    /** One socket line, or null when it is malformed. */
    static SocketRecord parseLine(long netns, String line) {
        String[] f = line.split("\\s+");
        if (f.length < MIN_FIELDS || !f[0].endsWith(":")) return null;
        try {
            int colon = f[F_LOCAL].indexOf(':');
            int rcolon = f[F_REMOTE].indexOf(':');
            if (colon < 0 || rcolon < 0) return null;
            InetAddress local = address(f[F_LOCAL].substring(0, colon));
            InetAddress remote = address(f[F_REMOTE].substring(0, rcolon));
            if (local == null || remote == null) return null;
            int localPort = port(f[F_LOCAL].substring(colon + 1));
            int remotePort = port(f[F_REMOTE].substring(rcolon + 1));

            TcpState printed = TcpState.ofKernel(Integer.parseInt(f[F_STATE], 16));
            if (printed == null) return null;
            long[] queues = hexPair(f[F_QUEUES]);
            long[] timer = hexPair(f[F_TIMER]);
            int uid = Integer.parseUnsignedInt(f[F_UID]);
            long inode = Long.parseUnsignedLong(f[F_INODE]);
            boolean shortForm = f.length < FULL_SOCKET_FIELDS;

            boolean request = printed == TcpState.SYN_RECV && inode == 0 && shortForm;
            boolean timewait = printed == TcpState.TIME_WAIT
                    || (printed == TcpState.FIN_WAIT2 && inode == 0 && shortForm);
            TcpState state = request ? TcpState.NEW_SYN_RECV : printed;

            // for a listener rx_queue is sk_ack_backlog; its limit is not in this file
            // (tx_queue is write_seq - snd_una, 0 for a listener; ss gets the limit by netlink)
            int acceptQueue = state == TcpState.LISTEN ? (int) queues[1] : 0;
            int timerMs = timewait && timer[0] == TIMER_TIMEWAIT
                    ? (int) Math.min(Integer.MAX_VALUE, timer[1] * MILLIS_PER_TICK) : 0;

            return new SocketRecord(netns, state, local, localPort, remote, remotePort,
                    0, inode, 0, 0, "", uid,
                    acceptQueue, 0, 0, 0,
                    0, 0, timerMs, timewait, request);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** "0100007F" (IPv4) or 32 hex digits (IPv6): 32-bit words printed in host byte order. */
    static InetAddress address(String hex) {
        if (hex.length() != 8 && hex.length() != 32) return null;
        byte[] bytes = new byte[hex.length() / 2];
        for (int word = 0; word < bytes.length / 4; word++) {
            long value = Long.parseLong(hex.substring(word * 8, word * 8 + 8), 16);
            for (int i = 0; i < 4; i++) {
                int shift = LITTLE_ENDIAN ? 8 * i : 8 * (3 - i);
                bytes[word * 4 + i] = (byte) (value >>> shift);
            }
        }
        try {
            // no lookup: the bytes are the address; ::ffff:a.b.c.d comes back as an Inet4Address
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static int port(String hex) {
        int port = Integer.parseInt(hex, 16);
        if (port > 0xFFFF) throw new NumberFormatException("port " + hex);
        return port;
    }

    /** "0000000A:00000003" -> {10, 3}. */
    private static long[] hexPair(String field) {
        int colon = field.indexOf(':');
        if (colon < 0) throw new NumberFormatException("no ':' in " + field);
        return new long[] {
            Long.parseUnsignedLong(field.substring(0, colon), 16),
            Long.parseUnsignedLong(field.substring(colon + 1), 16) };
    }
}
