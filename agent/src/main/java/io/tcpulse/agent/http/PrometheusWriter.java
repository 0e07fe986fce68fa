package io.tcpulse.agent.http;

import io.tcpulse.agent.aggregate.Health;
import io.tcpulse.agent.aggregate.Histogram;
import io.tcpulse.agent.aggregate.Latency;
import io.tcpulse.agent.aggregate.ListenerStatus;
import io.tcpulse.agent.aggregate.Snapshot;
import io.tcpulse.agent.model.TcpState;
import io.tcpulse.agent.model.TransitionCount;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
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
    /** Per-listener series kept; the rest are summed per namespace into addr="other",port="other". */
    private final int topListeners;

    private PrometheusWriter() {
        this(io.tcpulse.agent.config.Limits.DEFAULT_METRICS_LISTENERS);
    }

    private PrometheusWriter(int topListeners) {
        this.topListeners = topListeners;
    }

    /** Families another component appends (alerts, webhooks): complete HELP, TYPE and sample lines. */
    public interface Extra {
        void writeTo(StringBuilder out);
    }

    /** The snapshot's families, then each extra's. */
    public static String write(Snapshot s, java.util.List<Extra> extras) {
        return write(s, extras, io.tcpulse.agent.config.Limits.DEFAULT_METRICS_LISTENERS);
    }

    /** The same keeping per-listener series for the topListeners most active listeners (limits.metricsListeners). */
    public static String write(Snapshot s, java.util.List<Extra> extras, int topListeners) {
        return write(s, extras, topListeners, io.tcpulse.agent.config.Limits.DEFAULT_METRICS_NAMESPACES);
    }

    /** The same with the topNamespaces most active namespaces (the agent's own first) labelled, the rest as netns="other". */
    public static String write(Snapshot s, java.util.List<Extra> extras, int topListeners, int topNamespaces) {
        int folded = NamespaceFold.folded(s, topNamespaces);
        StringBuilder out = new StringBuilder(write(NamespaceFold.fold(s, topNamespaces, OWN_NETNS), topListeners));
        out.append("# HELP tcpulse_metrics_other_namespaces Network namespaces whose figures are summed into the netns=\"other\" series (limits.metricsNamespaces).\n")
                .append("# TYPE tcpulse_metrics_other_namespaces gauge\n")
                .append("tcpulse_metrics_other_namespaces ").append(folded).append('\n');
        for (Extra e : extras) e.writeTo(out);
        return out.toString();
    }

    private static final long OWN_NETNS = io.tcpulse.agent.host.NetnsDiscovery.ownNetns();

    /** The netns label: the inode, or "other" for the namespaces folded together. */
    static String netnsLabel(long netns) {
        return netns == NamespaceFold.OTHER ? OTHER : Long.toString(netns);
    }

    public static String write(Snapshot s) {
        return write(s, io.tcpulse.agent.config.Limits.DEFAULT_METRICS_LISTENERS);
    }

    static String write(Snapshot s, int topListeners) {
        PrometheusWriter w = new PrometheusWriter(topListeners);
        w.sockets(s);
        w.transitions(s);
        w.probe(s.health());
        w.programs(s.health());
        w.supervision(s);
        w.latency(s);
        w.listeners(s);
        w.closing(s);
        w.peers(s);
        w.tcpExt(s);
        return w.out.toString();
    }

    private void sockets(Snapshot s) {
        family("tcpulse_sockets", "gauge", "TCP sockets by state in each network namespace.");
        for (long netns : new TreeSet<>(s.states().keySet())) {
            Map<TcpState, Long> counts = s.statesOf(netns);
            for (TcpState state : TcpState.COUNTED) {
                sample("tcpulse_sockets", counts.get(state), "netns", netnsLabel(netns), "state", state.label());
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
                "netns", netnsLabel(k.netns()), "from", label(k.from()), "to", label(k.to())));
        family("tcpulse_timewait_entries_total", "counter",
                "Sockets handed to a timewait mini-socket, by its substate (time_wait or fin_wait2).");
        timewait.forEach((k, n) -> sample("tcpulse_timewait_entries_total", n,
                "netns", netnsLabel(k.netns()), "substate", label(k.to())));
    }

    private void probe(Health h) {
        family("tcpulse_probe_up", "gauge", "1 when the eBPF probe is attached, 0 in procfs mode.");
        sample("tcpulse_probe_up", h.probeAvailable() ? 1 : 0);
        family("tcpulse_probe_feature", "gauge", "1 when the probe feature is on, 0 when this kernel refused it (see /api/v1/health).");
        h.features().forEach(f -> sample("tcpulse_probe_feature", f.on() ? 1 : 0, "feature", f.name()));
        counter("tcpulse_probe_events_total", "Events the kernel programs saw.", h.seen());
        counter("tcpulse_probe_events_lost_total", "Events lost because a ring buffer was full.", h.lost());
        counter("tcpulse_probe_events_sampled_out_total", "Events dropped by sampling.", h.sampledOut());
        counter("tcpulse_probe_map_full_total", "Updates refused because a BPF map was full.", h.mapFull());
        family("tcpulse_probe_map_full_by_map_total", "counter",
                "Updates refused because a BPF map was full, by map (transitions, port_counters, listen_owners, sk_infos).");
        h.mapFullByMap().forEach((map, n) -> sample("tcpulse_probe_map_full_by_map_total", n, "map", map));
        counter("tcpulse_probe_decode_errors_total", "Records the agent could not decode.", h.decodeErrors());
        family("tcpulse_probe_remembered_sockets", "gauge", "Sockets the kernel side keeps an entry for (owner, birth, state times).");
        sample("tcpulse_probe_remembered_sockets", h.rememberedSockets());
        family("tcpulse_probe_wakeups_total", "counter",
                "Wake-ups of the agent's event consumer by the kernel, by cause: backlog (a ring past its wake-up mark), "
                        + "first_event (the first event after the consumer went to sleep on empty rings).");
        sample("tcpulse_probe_wakeups_total", h.wakeups().backlog(), "cause", "backlog");
        sample("tcpulse_probe_wakeups_total", h.wakeups().firstEvent(), "cause", "first_event");
        walks(h);
    }

    /** What walks cost and what reconciliation found. */
    private void walks(Health h) {
        family("tcpulse_walk_seconds", "gauge", "Duration of the last walk of every namespace's sockets.");
        sampleDouble("tcpulse_walk_seconds", h.lastWalkMicros() / 1e6);
        counter("tcpulse_walks_skipped_total", "Walks skipped because nothing happened since the last one.", h.skippedWalks());
        counter("tcpulse_walks_listeners_only_total",
                "Walks of listeners alone: nothing happened but a listener's accept queue may drain.", h.listenerWalks());
        counter("tcpulse_walk_drift_checks_total",
                "Namespace walks that checked the counts kept from transition counters (the namespace was still while walked).",
                h.drift().checkedWalks());
        counter("tcpulse_walk_unsettled_total",
                "Namespace walks during which the namespace's sockets changed state: counts may be off by those sockets until the next walk, taken at once.",
                h.drift().unsettledWalks());
        family("tcpulse_walk_drift_sockets_total", "counter",
                "Sockets by which a walk found the counts kept from transition counters wrong, by state (the states every change of which is counted); 0 unless a change was missed.");
        h.drift().byState().forEach((st, n) -> sample("tcpulse_walk_drift_sockets_total", n, "state", st.toLowerCase(java.util.Locale.ROOT)));
    }

    /** Each attached program's kernel time, runs and recursion misses; state changes neither twin ran for. */
    private void programs(Health h) {
        counter("tcpulse_probe_state_changes_lost_total",
                "State changes neither state-change program ran for (the kernel's recursion guard refused both): counts are short by this.",
                h.programs().stateChangesLost());
        family("tcpulse_probe_recursion_misses_total", "counter",
                "Runs the kernel skipped because the program was already running on that CPU (bpf_prog_info.recursion_misses).");
        h.programs().list().forEach(p -> sample("tcpulse_probe_recursion_misses_total", p.recursionMisses(), "program", p.name()));
        if (!"on".equals(h.programs().runStats())) return; // the kernel does not count: no figure rather than a false 0
        family("tcpulse_probe_runs_total", "counter", "Runs of the program (bpf_prog_info.run_cnt, while the kernel counts run time).");
        h.programs().list().forEach(p -> sample("tcpulse_probe_runs_total", p.runs(), "program", p.name()));
        family("tcpulse_probe_run_seconds_total", "counter", "Kernel time spent in the program (bpf_prog_info.run_time_ns).");
        h.programs().list().forEach(p -> sampleDouble("tcpulse_probe_run_seconds_total", p.runNanos() / 1e9, "program", p.name()));
    }

    /** The agent process itself, under the names the Prometheus client libraries use. */
    static void self(StringBuilder into, io.tcpulse.agent.host.SelfUsage u) {
        PrometheusWriter w = new PrometheusWriter(0);
        if (u.cpuSeconds() >= 0) {
            w.family("process_cpu_seconds_total", "counter", "User and system CPU time of the agent process.");
            w.sampleDouble("process_cpu_seconds_total", u.cpuSeconds());
        }
        if (u.residentBytes() >= 0) {
            w.family("process_resident_memory_bytes", "gauge", "Resident memory of the agent process.");
            w.sample("process_resident_memory_bytes", u.residentBytes());
        }
        if (u.openFds() >= 0) {
            w.family("process_open_fds", "gauge", "Open file descriptors of the agent process.");
            w.sample("process_open_fds", u.openFds());
            w.family("process_max_fds", "gauge", "The agent's descriptor limit (RLIMIT_NOFILE).");
            w.sample("process_max_fds", u.maxFds());
        }
        w.family("process_start_time_seconds", "gauge", "When the agent process started, in seconds since the epoch.");
        w.sampleDouble("process_start_time_seconds", u.startSeconds());
        w.family("jvm_memory_used_bytes", "gauge", "JVM memory in use by area.");
        w.sample("jvm_memory_used_bytes", u.heapUsedBytes(), "area", "heap");
        w.sample("jvm_memory_used_bytes", u.nonHeapUsedBytes(), "area", "nonheap");
        w.family("jvm_memory_committed_bytes", "gauge", "JVM heap committed.");
        w.sample("jvm_memory_committed_bytes", u.heapCommittedBytes(), "area", "heap");
        if (u.heapMaxBytes() >= 0) {
            w.family("jvm_memory_max_bytes", "gauge", "JVM heap limit (-Xmx).");
            w.sample("jvm_memory_max_bytes", u.heapMaxBytes(), "area", "heap");
        }
        into.append(w.out);
    }

    /** The probe loop's step failures by cause, and how long collection has been out. */
    private void supervision(Snapshot s) {
        Health h = s.health();
        family("tcpulse_probe_errors_total", "counter",
                "Failures of a step of the probe loop (drain, walk, owners, counters, publish) by errno name or exception class; each is retried.");
        h.errors().forEach(e -> sample("tcpulse_probe_errors_total", e.count(), "step", e.step(), "errno", e.errno()));
        family("tcpulse_probe_outage_seconds", "gauge",
                "How long a step of collection has been failing without a success; 0 while collection works.");
        sampleDouble("tcpulse_probe_outage_seconds",
                h.outage() == null ? 0 : Math.max(0, s.wallMillis() - h.outage().sinceMillis()) / 1000.0);
    }

    /** The HTTP side's connections against its cap (ConnectionGuard). */
    static void http(StringBuilder into, ConnectionGuard g) {
        PrometheusWriter w = new PrometheusWriter(0);
        w.family("tcpulse_http_connections", "gauge", "HTTP connections open now.");
        w.sample("tcpulse_http_connections", g.open());
        w.family("tcpulse_http_connections_max", "gauge",
                "Concurrent HTTP connections allowed (http.maxConnections, or what RLIMIT_NOFILE leaves the probe's reserve).");
        w.sample("tcpulse_http_connections_max", g.maxConnections());
        w.family("tcpulse_http_connections_closed_total", "counter",
                "HTTP connections the agent closed to keep descriptors for the probe: over the cap, or no request head in time.");
        w.sample("tcpulse_http_connections_closed_total", g.refused(), "reason", "limit");
        w.sample("tcpulse_http_connections_closed_total", g.headerTimeouts(), "reason", "header_timeout");
        w.family("tcpulse_http_rejected_total", "counter",
                "HTTP clients turned away by a bound: limit (http.maxConnections), per_client (limits.perClientConnections),"
                        + " header_timeout (no request head in 10 s), streams (limits.maxStreams; answered 503).");
        w.sample("tcpulse_http_rejected_total", g.refused(), "reason", "limit");
        w.sample("tcpulse_http_rejected_total", g.perClientRefused(), "reason", "per_client");
        w.sample("tcpulse_http_rejected_total", g.headerTimeouts(), "reason", "header_timeout");
        w.sample("tcpulse_http_rejected_total", g.streamsRefused(), "reason", "streams");
        into.append(w.out);
    }

    private void latency(Snapshot s) {
        Map<Long, Latency> byNetns = new TreeMap<>(s.latency());
        String handshake = "tcpulse_handshake_latency_seconds";
        family(handshake, "histogram", "Three-way handshake duration: client SYN_SENT->ESTABLISHED, server SYN_RECV->ESTABLISHED.");
        byNetns.forEach((netns, l) -> {
            histogram(handshake, l.handshakeClient(), "netns", netnsLabel(netns), "side", "client");
            histogram(handshake, l.handshakeServer(), "netns", netnsLabel(netns), "side", "server");
        });
        String lifetime = "tcpulse_connection_lifetime_seconds";
        family(lifetime, "histogram", "Connection lifetime from creation to CLOSE.");
        byNetns.forEach((netns, l) -> histogram(lifetime, l.lifetime(), "netns", netnsLabel(netns)));
    }

    /**
     * Per listening socket: one series per (netns, addr, port) for the topListeners most
     * active ones; the others of each namespace are summed into one addr="other",
     * port="other" series, so sums over a namespace stay exact.
     */
    private void listeners(Snapshot s) {
        List<ListenerStatus> folded = foldReuseport(s.listenerStatus());
        Map<Long, Long> rest = new TreeMap<>();
        List<ListenerStatus> ls = topListeners(folded, topListeners, rest);
        family("tcpulse_listen_other_listeners", "gauge",
                "Listeners of the namespace summed into the addr=\"other\" series of the tcpulse_listen_* families (limits.metricsListeners).");
        rest.forEach((netns, n) -> sample("tcpulse_listen_other_listeners", n, "netns", netnsLabel(netns)));
        listenerFamily(ls, "tcpulse_listen_accept_queue", "gauge", "Connections waiting in the listener's accept queue.", l -> l.acceptQueue());
        listenerFamily(ls, "tcpulse_listen_accept_queue_max", "gauge", "The listener's accept queue limit (effective backlog).", l -> l.acceptQueueMax());
        listenerFamily(ls, "tcpulse_listen_syn_queue", "gauge", "Half-open request sockets in the listener's SYN queue.", l -> l.synQueue());
        listenerFamily(ls, "tcpulse_listen_syn_queue_max", "gauge", "The listener's SYN queue limit as the kernel applies it.", l -> l.synQueueMax());
        listenerFamily(ls, "tcpulse_listen_overflows_total", "counter", "Accept-queue overflows attributed to the listener.", l -> l.overflows());
        listenerFamily(ls, "tcpulse_listen_drops_total", "counter", "Listen drops of the listener (sk_drops).", l -> l.drops());
        listenerFamily(ls, "tcpulse_listen_synack_retransmits_total", "counter", "SYN-ACKs the listener retransmitted (handshakes not completed).", l -> l.synAckRetransmits());
        // what the listener's connections carried: series only where there is something (an idle listener costs none)
        List<ListenerStatus> busy = ls.stream().filter(l -> l.children().accepted() > 0 || !l.children().carried().isEmpty()
                || !l.children().states().isEmpty()).toList();
        listenerFamily(busy, "tcpulse_listen_accepted_total", "counter", "Connections the listener's port accepted since the agent started.",
                l -> l.children().accepted());
        listenerFamily(busy, "tcpulse_listen_retransmits_total", "counter",
                "Segments the connections the listener accepted retransmitted (data and FIN; SYN-ACKs are tcpulse_listen_synack_retransmits_total).",
                l -> l.children().carried().retransmits());
        listenerFamily(busy, "tcpulse_listen_segments_sent_total", "counter",
                "Segments the connections the listener accepted sent, retransmits included (the denominator of a retransmit ratio).",
                l -> l.children().carried().segmentsSent());
        family("tcpulse_listen_bytes_total", "counter", "Data bytes of the connections the listener accepted: sent (acknowledged by the peer) and received.");
        for (var l : busy) {
            String[] labels = listenerLabels(l);
            sample("tcpulse_listen_bytes_total", l.children().carried().bytesSent(), with(labels, "direction", "sent"));
            sample("tcpulse_listen_bytes_total", l.children().carried().bytesReceived(), with(labels, "direction", "received"));
        }
        family("tcpulse_listen_connections", "gauge", "The connections the listener accepted that are still there, by state (as at the last walk).");
        for (var l : busy) {
            String[] labels = listenerLabels(l);
            l.children().states().forEach((st, n) -> sample("tcpulse_listen_connections", n, with(labels, "state", st.name())));
        }
    }

    private static String[] listenerLabels(ListenerStatus l) {
        boolean other = OTHER.equals(l.addr()) && l.port() < 0;
        return new String[] {"netns", netnsLabel(l.netns()), "addr", l.addr(), "port", other ? OTHER : Integer.toString(l.port())};
    }

    private static String[] with(String[] labels, String name, String value) {
        String[] out = Arrays.copyOf(labels, labels.length + 2);
        out[labels.length] = name;
        out[labels.length + 1] = value;
        return out;
    }

    /**
     * An SO_REUSEPORT group is several listening sockets on one (netns, addr, port): one
     * series per family, or Prometheus rejects the scrape. Queues, limits, overflows and
     * drops are per socket and add up; SYN-ACK retransmits and RSTs are per port already.
     */
    static List<ListenerStatus> foldReuseport(List<ListenerStatus> ls) {
        record Key(long netns, String addr, int port) {}
        Map<Key, ListenerStatus> out = new LinkedHashMap<>(ls.size() * 2);
        for (var l : ls) {
            out.merge(new Key(l.netns(), l.addr(), l.port()), l, (a, b) -> new ListenerStatus(
                    a.netns(), a.addr(), a.port(), a.acceptQueue() + b.acceptQueue(), a.acceptQueueMax() + b.acceptQueueMax(),
                    a.synQueue() + b.synQueue(), a.synQueueMax() + b.synQueueMax(), a.overflows() + b.overflows(),
                    a.drops() + b.drops(), Math.max(a.synAckRetransmits(), b.synAckRetransmits()),
                    Math.max(a.resetsSent(), b.resetsSent()), Math.max(a.resetsReceived(), b.resetsReceived()),
                    a.owner(), a.syncookies(),
                    ListenerStatus.VERDICT_OK.equals(a.verdict()) ? b.verdict() : a.verdict(),
                    a.children())); // per port already
        }
        return List.copyOf(out.values());
    }

    private void listenerFamily(java.util.List<io.tcpulse.agent.aggregate.ListenerStatus> ls, String name, String type,
                                String help, java.util.function.ToLongFunction<io.tcpulse.agent.aggregate.ListenerStatus> value) {
        family(name, type, help);
        for (var l : ls) {
            boolean other = OTHER.equals(l.addr()) && l.port() < 0;
            sample(name, value.applyAsLong(l), "netns", netnsLabel(l.netns()), "addr", l.addr(),
                    "port", other ? OTHER : Integer.toString(l.port()));
        }
    }

    /** The addr and port label values of the series that sums the listeners past the top N of a namespace. */
    static final String OTHER = "other";

    /** Most active first: a verdict other than ok, then queues and counters; then netns, port, addr for a stable order. */
    static long activity(ListenerStatus l) {
        return l.acceptQueue() + l.synQueue() + l.overflows() + l.drops() + l.synAckRetransmits()
                + l.resetsSent() + l.resetsReceived();
    }

    static final Comparator<ListenerStatus> MOST_ACTIVE = Comparator
            .comparing((ListenerStatus l) -> ListenerStatus.VERDICT_OK.equals(l.verdict()))
            .thenComparing(Comparator.comparingLong(PrometheusWriter::activity).reversed())
            .thenComparingLong(ListenerStatus::netns).thenComparingInt(ListenerStatus::port).thenComparing(ListenerStatus::addr);

    /**
     * The n most active listeners in their original order, then per namespace one
     * ListenerStatus (addr "other", port -1) summing the rest: queues, limits and counters
     * add up, so every sum over a namespace is the same as with all series.
     */
    static List<ListenerStatus> topListeners(List<ListenerStatus> ls, int n) {
        return topListeners(ls, n, new TreeMap<>());
    }

    /** The same; others gets, per namespace, how many listeners its "other" series sums. */
    static List<ListenerStatus> topListeners(List<ListenerStatus> ls, int n, Map<Long, Long> others) {
        if (ls.size() <= n) return ls;
        // rank indices on precomputed keys: 20,000 listeners, a comparator that recomputes nothing
        int size = ls.size();
        long[] activity = new long[size];
        for (int i = 0; i < size; i++) activity[i] = activity(ls.get(i));
        Integer[] order = new Integer[size];
        for (int i = 0; i < size; i++) order[i] = i;
        java.util.Arrays.sort(order, (x, y) -> {
            ListenerStatus a = ls.get(x), b = ls.get(y);
            boolean aOk = ListenerStatus.VERDICT_OK.equals(a.verdict()), bOk = ListenerStatus.VERDICT_OK.equals(b.verdict());
            if (aOk != bOk) return aOk ? 1 : -1;
            if (activity[x] != activity[y]) return activity[x] > activity[y] ? -1 : 1;
            int c = Long.compare(a.netns(), b.netns());
            if (c != 0) return c;
            c = Integer.compare(a.port(), b.port());
            return c != 0 ? c : a.addr().compareTo(b.addr());
        });
        boolean[] keep = new boolean[size];
        for (int i = 0; i < n; i++) keep[order[i]] = true;
        List<ListenerStatus> out = new java.util.ArrayList<>(n + 8);
        Map<Long, long[]> rest = new TreeMap<>();
        Map<Long, ListenerStatus.Children> restChildren = new HashMap<>();
        for (int i = 0; i < size; i++) {
            ListenerStatus l = ls.get(i);
            if (keep[i]) {
                out.add(l);
                continue;
            }
            others.merge(l.netns(), 1L, Long::sum);
            long[] r = rest.computeIfAbsent(l.netns(), k -> new long[9]);
            r[0] += l.acceptQueue(); r[1] += l.acceptQueueMax(); r[2] += l.synQueue(); r[3] += l.synQueueMax();
            r[4] += l.overflows(); r[5] += l.drops(); r[6] += l.synAckRetransmits();
            r[7] += l.resetsSent(); r[8] += l.resetsReceived();
            restChildren.merge(l.netns(), l.children(), ListenerStatus.Children::plus);
        }
        rest.forEach((netns, r) -> out.add(new ListenerStatus(netns, OTHER, -1, (int) Math.min(Integer.MAX_VALUE, r[0]),
                (int) Math.min(Integer.MAX_VALUE, r[1]), (int) Math.min(Integer.MAX_VALUE, r[2]), (int) Math.min(Integer.MAX_VALUE, r[3]),
                r[4], r[5], r[6], r[7], r[8], null, false, ListenerStatus.VERDICT_OK, restChildren.get(netns))));
        return out;
    }

    /** TIME_WAIT, port exhaustion (top destinations only: bounded cardinality), CLOSE_WAIT by owner, RSTs. */
    private void closing(Snapshot s) {
        family("tcpulse_timewait_sockets", "gauge", "TIME_WAIT sockets in each network namespace.");
        for (long netns : new TreeSet<>(s.timewait().keySet())) {
            sample("tcpulse_timewait_sockets", s.timewait().get(netns).total(), "netns", netnsLabel(netns));
        }
        family("tcpulse_timewait_port_exhaustion_ratio", "gauge",
                "Local ports held towards a destination over the usable ephemeral range (top 10 destinations per netns).");
        for (long netns : new TreeSet<>(s.timewait().keySet())) {
            var rs = s.timewait().get(netns).byRemote();
            for (int i = 0; i < Math.min(10, rs.size()); i++) {
                sampleDouble("tcpulse_timewait_port_exhaustion_ratio", rs.get(i).exhaustion(),
                        "netns", netnsLabel(netns), "remote", rs.get(i).remote());
            }
        }
        // several pids of one program (workers) share comm and unit: one series per pair, or
        // Prometheus would see duplicates; past the top 20 pairs the rest is comm="other"
        family("tcpulse_closewait_sockets", "gauge",
                "CLOSE_WAIT sockets by owning process name and unit (top 20 per netns, the rest as comm=\"other\").");
        Map<Long, List<OwnerSeries>> closewait = new TreeMap<>();
        s.closewait().forEach((netns, report) -> closewait.put(netns, OwnerSeries.top(report, CLOSEWAIT_TOP)));
        closewait.forEach((netns, rows) -> rows.forEach(r -> sample("tcpulse_closewait_sockets", r.count,
                "netns", netnsLabel(netns), "comm", r.comm, "unit", r.unit)));
        // the leak signal of the built-in closeWaitLeak rule, so fleets can alert on it too
        family("tcpulse_closewait_oldest_age_seconds", "gauge",
                "Age of the oldest CLOSE_WAIT socket per process name and unit (same series as tcpulse_closewait_sockets).");
        closewait.forEach((netns, rows) -> rows.forEach(r -> sampleDouble("tcpulse_closewait_oldest_age_seconds",
                r.oldestAgeSeconds, "netns", netnsLabel(netns), "comm", r.comm, "unit", r.unit)));
        family("tcpulse_resets_total", "counter", "TCP resets sent and received in each network namespace.");
        for (long netns : new TreeSet<>(s.resets().keySet())) {
            sample("tcpulse_resets_total", s.resets().get(netns).sent(), "netns", netnsLabel(netns), "direction", "sent");
            sample("tcpulse_resets_total", s.resets().get(netns).received(), "netns", netnsLabel(netns), "direction", "received");
        }
    }

    static final int CLOSEWAIT_TOP = 20;
    /** Destinations with series of their own; the rest of each namespace summed into remote="other". */
    static final int PEERS_TOP = 100;

    /** Failed connects per destination and reason: the PEERS_TOP most failing destinations, the rest per namespace as "other". */
    private void peers(Snapshot s) {
        record Row(long netns, String remote, java.util.Map<String, Long> failed, long total) {}
        // one row per (netns, remote): folded namespaces may share a destination
        Map<List<Object>, Map<String, Long>> merged = new LinkedHashMap<>();
        s.peers().forEach((netns, ps) -> ps.forEach(p -> {
            Map<String, Long> into = merged.computeIfAbsent(List.of(netns, p.remote()), k -> new LinkedHashMap<>());
            p.failed().forEach((reason, n) -> into.merge(reason, n, Long::sum));
        }));
        List<Row> rows = new java.util.ArrayList<>();
        merged.forEach((k, f) -> rows.add(new Row((Long) k.get(0), (String) k.get(1), f,
                f.values().stream().mapToLong(Long::longValue).sum())));
        rows.removeIf(r -> r.total() == 0);
        rows.sort(Comparator.comparingLong((Row r) -> -r.total()).thenComparingLong(Row::netns).thenComparing(Row::remote));
        Map<Long, Map<String, Long>> other = new TreeMap<>();
        family("tcpulse_peer_connect_failures_total", "counter",
                "Connects this host made that failed, by destination and reason (refused, timeout, unreachable, reset, other);"
                        + " past the " + PEERS_TOP + " most failing destinations, per namespace as remote=\"other\".");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (i < PEERS_TOP && !OTHER.equals(r.remote())) {
                r.failed().forEach((reason, n) -> sample("tcpulse_peer_connect_failures_total", n,
                        "netns", netnsLabel(r.netns()), "remote", r.remote(), "reason", reason));
            } else {
                r.failed().forEach((reason, n) -> other.computeIfAbsent(r.netns(), k -> new java.util.LinkedHashMap<>()).merge(reason, n, Long::sum));
            }
        }
        other.forEach((netns, f) -> f.forEach((reason, n) -> sample("tcpulse_peer_connect_failures_total", n,
                "netns", netnsLabel(netns), "remote", OTHER, "reason", reason)));
        peersCarried(s);
    }

    /** Destinations with an RTT histogram of their own (39 series each); the rest per namespace as "other". */
    static final int PEER_RTT_TOP = 10;

    /**
     * What the connections to each destination carried: retransmits and bytes for the
     * PEERS_TOP busiest destinations, the RTT histogram for the PEER_RTT_TOP busiest, the rest
     * of each namespace summed into remote="other".
     */
    private void peersCarried(Snapshot s) {
        record Row(long netns, String remote, io.tcpulse.agent.aggregate.Carried c, long connects) {
            Row plus(Row o) {
                return new Row(netns, remote, io.tcpulse.agent.aggregate.Carried.sum(c, o.c), connects + o.connects);
            }
        }
        // one row per (netns, remote): folded namespaces may share a destination
        Map<List<Object>, Row> merged = new LinkedHashMap<>();
        s.peers().forEach((netns, ps) -> ps.forEach(p -> merged.merge(List.of(netns, p.remote()),
                new Row(netns, p.remote(), p.carried(), p.connects()), Row::plus)));
        List<Row> ranked = new java.util.ArrayList<>(merged.values());
        ranked.removeIf(r -> r.c().isEmpty() && r.connects() == 0);
        ranked.sort(Comparator.comparingLong((Row r) -> -(r.c().bytesSent() + r.c().bytesReceived() + r.c().retransmits()))
                .thenComparingLong(Row::netns).thenComparing(Row::remote));
        // the busiest destinations by name, the rest of each namespace summed into remote="other"
        List<Row> rows = new java.util.ArrayList<>();
        List<Row> rttRows = new java.util.ArrayList<>();
        Map<Long, Row> other = new TreeMap<>();
        Map<Long, Histogram> otherRtt = new TreeMap<>();
        for (int i = 0; i < ranked.size(); i++) {
            Row r = ranked.get(i);
            boolean own = i < PEERS_TOP && !OTHER.equals(r.remote());
            if (own) rows.add(r);
            else other.merge(r.netns(), new Row(r.netns(), OTHER, r.c(), r.connects()), Row::plus);
            if (own && i < PEER_RTT_TOP) {
                if (r.c().rtt().count() > 0) rttRows.add(r);
            } else {
                otherRtt.computeIfAbsent(r.netns(), n -> new Histogram()).add(r.c().rtt());
            }
        }
        rows.addAll(other.values());
        // one group of lines per family, as the exposition format requires
        family("tcpulse_peer_connects_total", "counter",
                "Connects this host made, by destination (the denominator of a connect failure ratio).");
        for (Row r : rows) sample("tcpulse_peer_connects_total", r.connects(), "netns", netnsLabel(r.netns()), "remote", r.remote());
        family("tcpulse_peer_retransmits_total", "counter", "Segments retransmitted on connections this host opened, by destination (SYNs included).");
        for (Row r : rows) sample("tcpulse_peer_retransmits_total", r.c().retransmits(), "netns", netnsLabel(r.netns()), "remote", r.remote());
        family("tcpulse_peer_segments_sent_total", "counter",
                "Segments sent on connections this host opened, retransmits included (the denominator of a retransmit ratio), by destination.");
        for (Row r : rows) sample("tcpulse_peer_segments_sent_total", r.c().segmentsSent(), "netns", netnsLabel(r.netns()), "remote", r.remote());
        family("tcpulse_peer_bytes_total", "counter", "Data bytes of connections this host opened, by destination: sent (acknowledged by the peer) and received.");
        for (Row r : rows) {
            String ns = netnsLabel(r.netns());
            sample("tcpulse_peer_bytes_total", r.c().bytesSent(), "netns", ns, "remote", r.remote(), "direction", "sent");
            sample("tcpulse_peer_bytes_total", r.c().bytesReceived(), "netns", ns, "remote", r.remote(), "direction", "received");
        }
        family("tcpulse_peer_rtt_seconds", "histogram",
                "Smoothed RTT of connections this host opened: one sample per closed connection, one per live connection at the last walk.");
        for (Row r : rttRows) histogram("tcpulse_peer_rtt_seconds", r.c().rtt(), "netns", netnsLabel(r.netns()), "remote", r.remote());
        otherRtt.forEach((netns, h) -> {
            if (h.count() > 0) histogram("tcpulse_peer_rtt_seconds", h, "netns", netnsLabel(netns), "remote", OTHER);
        });
    }

    /** CLOSE_WAIT owners folded by (comm, unit), biggest first, the tail merged into "other". */
    static final class OwnerSeries {
        final String comm, unit;
        long count;
        double oldestAgeSeconds;

        OwnerSeries(String comm, String unit) {
            this.comm = comm;
            this.unit = unit;
        }

        static List<OwnerSeries> top(io.tcpulse.agent.aggregate.CloseWaitReport report, int n) {
            Map<List<String>, OwnerSeries> byName = new java.util.LinkedHashMap<>();
            for (var o : report.byOwner()) {
                OwnerSeries r = byName.computeIfAbsent(List.of(o.comm(), o.unit()), k -> new OwnerSeries(o.comm(), o.unit()));
                r.add(o.count(), o.oldestAgeSeconds());
            }
            List<OwnerSeries> rows = new java.util.ArrayList<>(byName.values());
            rows.sort(Comparator.comparingLong((OwnerSeries r) -> -r.count).thenComparing(r -> r.comm).thenComparing(r -> r.unit));
            if (rows.size() <= n) return rows;
            OwnerSeries other = new OwnerSeries("other", "other");
            rows.subList(n, rows.size()).forEach(r -> other.add(r.count, r.oldestAgeSeconds));
            List<OwnerSeries> out = new java.util.ArrayList<>(rows.subList(0, n));
            out.add(other);
            return out;
        }

        private void add(long n, double age) {
            count += n;
            oldestAgeSeconds = Math.max(oldestAgeSeconds, age);
        }
    }

    /** TcpExt counters (/proc/net/netstat) the fleet alert rules need, one family each, per netns. */
    private static final String[][] TCPEXT = {
            {"ListenOverflows", "tcpulse_tcpext_listen_overflows_total", "TcpExt ListenOverflows: accept-queue overflows in the namespace."},
            {"ListenDrops", "tcpulse_tcpext_listen_drops_total", "TcpExt ListenDrops: SYNs and ACKs dropped by listeners in the namespace."},
            {"TCPReqQFullDrop", "tcpulse_tcpext_syn_queue_full_drops_total", "TcpExt TCPReqQFullDrop: SYNs dropped because a SYN queue was full and syncookies were off."},
            {"TCPReqQFullDoCookies", "tcpulse_tcpext_syn_queue_full_cookies_total", "TcpExt TCPReqQFullDoCookies: SYN queue full, answered with a syncookie."},
            {"SyncookiesSent", "tcpulse_tcpext_syncookies_sent_total", "TcpExt SyncookiesSent."},
            {"TCPTimeWaitOverflow", "tcpulse_timewait_overflows_total", "TcpExt TCPTimeWaitOverflow: closing sockets that skipped TIME_WAIT (tcp_max_tw_buckets reached)."},
    };

    private void tcpExt(Snapshot s) {
        for (String[] c : TCPEXT) {
            family(c[1], "counter", c[2]);
            for (long netns : new TreeSet<>(s.netstat().keySet())) {
                Long v = s.netstat().get(netns).get(c[0]);
                if (v != null) sample(c[1], v, "netns", netnsLabel(netns));
            }
        }
        Map<Long, Boolean> cookies = new TreeMap<>();
        for (var l : s.listenerStatus()) cookies.put(l.netns(), l.syncookies());
        family("tcpulse_syncookies_enabled", "gauge", "1 when net.ipv4.tcp_syncookies is on in the namespace (namespaces with listeners).");
        cookies.remove(NamespaceFold.OTHER); // a flag of many namespaces is no figure
        cookies.forEach((netns, on) -> sample("tcpulse_syncookies_enabled", on ? 1 : 0, "netns", netnsLabel(netns)));
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
