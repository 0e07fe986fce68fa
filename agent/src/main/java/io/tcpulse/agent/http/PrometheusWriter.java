package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Histogram;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Renders a snapshot in the Prometheus text exposition format 0.0.4: one HELP and one
 * TYPE line per family, label values escaped, histogram buckets cumulative. Series come
 * in a stable order (netns, then kernel state numbers) so scrapes diff cleanly.
 */
public final class PrometheusWriter {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** le label values, e.g. "0.000001" rather than "1.0E-6", computed once. */
    private static final String[] LE = new String[Histogram.BUCKETS];
    static {
        for (int i = 0; i < Histogram.BUCKETS; i++) {
            LE[i] = BigDecimal.valueOf(Histogram.UPPER_SECONDS[i]).stripTrailingZeros().toPlainString();
        }
    }

    private final StringBuilder out = new StringBuilder(16 * 1024);

    private PrometheusWriter() {}

    public static String write(Snapshot s) {
        PrometheusWriter w = new PrometheusWriter();
        w.sockets(s);
        w.transitions(s);
        w.probe(s.health());
        w.latency(s);
        return w.out.toString();
    }

    private void sockets(Snapshot s) {
        family("tcpulse_sockets", "gauge", "TCP sockets by state in each network namespace.");
        for (long netns : new TreeSet<>(s.states().keySet())) {
            Map<TcpState, Long> counts = s.statesOf(netns);
            for (TcpState state : TcpState.COUNTED) {
                sample("tcpulse_sockets", counts.get(state), "netns", Long.toString(netns), "state", state.label());
            }
        }
    }

    /** Derived entries (->CLOSE handing over to a timewait sock) get their own family. */
    private void transitions(Snapshot s) {
        record Key(long netns, TcpState from, TcpState to) {}
        Comparator<Key> order = Comparator.comparingLong(Key::netns)
                .thenComparingInt(k -> kernel(k.from()))
                .thenComparingInt(k -> kernel(k.to()));
        Map<Key, Long> plain = new TreeMap<>(order);
        Map<Key, Long> timewait = new TreeMap<>(order);
        for (TransitionCount t : s.transitions()) {
            (t.derived() ? timewait : plain).merge(new Key(t.netns(), t.from(), t.to()), t.count(), Long::sum);
        }
        family("tcpulse_state_transitions_total", "counter",
                "TCP state changes in each network namespace, counted in the kernel.");
        plain.forEach((k, n) -> sample("tcpulse_state_transitions_total", n,
                "netns", Long.toString(k.netns()), "from", label(k.from()), "to", label(k.to())));
        family("tcpulse_timewait_entries_total", "counter",
                "Sockets handed to a timewait mini-socket, by its substate (time_wait or fin_wait2).");
        timewait.forEach((k, n) -> sample("tcpulse_timewait_entries_total", n,
                "netns", Long.toString(k.netns()), "substate", label(k.to())));
    }

    private void probe(Health h) {
        family("tcpulse_probe_up", "gauge", "1 when the eBPF probe is attached, 0 in procfs mode.");
        sample("tcpulse_probe_up", h.probeAvailable() ? 1 : 0);
        counter("tcpulse_probe_events_total", "Events the kernel programs saw.", h.seen());
        counter("tcpulse_probe_events_lost_total", "Events lost because a ring buffer was full.", h.lost());
        counter("tcpulse_probe_events_sampled_out_total", "Events dropped by sampling.", h.sampledOut());
        counter("tcpulse_probe_map_full_total", "Updates refused because a BPF map was full.", h.mapFull());
        counter("tcpulse_probe_decode_errors_total", "Records the agent could not decode.", h.decodeErrors());
    }

    private void latency(Snapshot s) {
        Map<Long, Latency> byNetns = new TreeMap<>(s.latency());
        String handshake = "tcpulse_handshake_latency_seconds";
        family(handshake, "histogram", "Three-way handshake duration: client SYN_SENT->ESTABLISHED, server SYN_RECV->ESTABLISHED.");
        byNetns.forEach((netns, l) -> {
            histogram(handshake, l.handshakeClient(), "netns", Long.toString(netns), "side", "client");
            histogram(handshake, l.handshakeServer(), "netns", Long.toString(netns), "side", "server");
        });
        String lifetime = "tcpulse_connection_lifetime_seconds";
        family(lifetime, "histogram", "Connection lifetime from creation to CLOSE.");
        byNetns.forEach((netns, l) -> histogram(lifetime, l.lifetime(), "netns", Long.toString(netns)));
    }

    private void histogram(String name, Histogram h, String... labels) {
        String[] withLe = Arrays.copyOf(labels, labels.length + 2);
        withLe[labels.length] = "le";
        long cumulative = 0;
        for (int i = 0; i < Histogram.BUCKETS; i++) {
            cumulative += h.bucket(i);
            withLe[labels.length + 1] = LE[i];
            sample(name + "_bucket", cumulative, withLe);
        }
        withLe[labels.length + 1] = "+Inf";
        sample(name + "_bucket", h.count(), withLe);
        sampleDouble(name + "_sum", h.sumSeconds(), labels);
        sample(name + "_count", h.count(), labels);
    }

    private void counter(String name, String help, long value) {
        family(name, "counter", help);
        sample(name, value);
    }

    private void family(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(String name, long value, String... labels) {
        labels(name, labels).append(value).append('\n');
    }

    private void sampleDouble(String name, double value, String... labels) {
        labels(name, labels).append(formatDouble(value)).append('\n');
    }

    /** name{k="v",...} followed by the separating space. */
    private StringBuilder labels(String name, String... pairs) {
        out.append(name);
        if (pairs.length > 0) {
            out.append('{');
            for (int i = 0; i < pairs.length; i += 2) {
                if (i > 0) out.append(',');
                out.append(pairs[i]).append("=\"").append(escapeLabelValue(pairs[i + 1])).append('"');
            }
            out.append('}');
        }
        return out.append(' ');
    }

    /** Label values escape backslash, double quote and line feed. */
    static String escapeLabelValue(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** HELP text escapes backslash and line feed only. */
    static String escapeHelp(String help) {
        return help.replace("\\", "\\\\").replace("\n", "\\n");
    }

    static String formatDouble(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "+Inf" : "-Inf";
        return Double.toString(d);
    }

    private static String label(TcpState s) {
        return s == null ? "unknown" : s.label();
    }

    private static int kernel(TcpState s) {
        return s == null ? Integer.MAX_VALUE : s.kernel;
    }
}
