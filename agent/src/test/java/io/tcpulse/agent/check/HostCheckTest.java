package io.tcpulse.agent.check;

import io.tcpulse.agent.host.Capabilities;
import io.tcpulse.agent.model.ProbeFeature;
import io.tcpulse.agent.probe.ProbeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** `tcpulse check` on made-up hosts: a BTF file written here, capabilities and probe faked. */
class HostCheckTest {
    private static final long BPF_PERFMON = (1L << Capabilities.CAP_BPF) | (1L << Capabilities.CAP_PERFMON);

    @TempDir
    Path dir;

    /** A minimal BTF blob: one typedef per name, and one enum holding the given values. */
    static byte[] btf(List<String> typedefs, List<String> enumValues) {
        ByteArrayOutputStream strings = new ByteArrayOutputStream();
        strings.write(0); // offset 0 is the empty name
        ByteBuffer types = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (String t : typedefs) {
            types.putInt(add(strings, t)).putInt(8 << 24).putInt(1); // TYPEDEF -> type 1
        }
        if (!enumValues.isEmpty()) {
            types.putInt(add(strings, "skb_drop_reason")).putInt((6 << 24) | enumValues.size()).putInt(4);
            int v = 0;
            for (String e : enumValues) types.putInt(add(strings, e)).putInt(v++);
        }
        byte[] s = strings.toByteArray();
        ByteBuffer b = ByteBuffer.allocate(24 + types.position() + s.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 0xeB9F).put((byte) 1).put((byte) 0).putInt(24)
                .putInt(0).putInt(types.position()).putInt(types.position()).putInt(s.length);
        b.put(types.array(), 0, types.position()).put(s);
        return b.array();
    }

    private static int add(ByteArrayOutputStream strings, String s) {
        int off = strings.size();
        strings.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        strings.write(0);
        return off;
    }

    private HostCheck host(String release, byte[] btf, long capEff, HostCheck.ProbeTest probe) throws IOException {
        Path os = Files.writeString(dir.resolve("osrelease"), release + "\n");
        Path btfFile = dir.resolve("vmlinux");
        if (btf != null) Files.write(btfFile, btf);
        return new HostCheck(os, btfFile, () -> new Capabilities(capEff), probe);
    }

    private static final List<String> ALL_TRACEPOINTS = List.of("btf_trace_inet_sock_set_state",
            "btf_trace_tcp_retransmit_synack", "btf_trace_tcp_send_reset", "btf_trace_tcp_receive_reset",
            "btf_trace_kfree_skb");

    private static final HostCheck.ProbeTest LOADED = config -> new HostCheck.ProbeReport("loaded", List.of(
            new ProbeFeature("stateChanges", true, "every TCP state change", ""),
            new ProbeFeature("resetsSent", false, "RSTs sent", "the kernel refused on_send_reset: R1 invalid mem access")));

    private static String report(HostCheck c, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = c.report(args, new PrintStream(out, true, StandardCharsets.UTF_8));
        return code + "\n" + out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aGoodHostIsReady() throws Exception {
        HostCheck c = host("6.1.0-18-amd64", btf(ALL_TRACEPOINTS, List.of("SKB_DROP_REASON_TCP_LISTEN_OVERFLOW")),
                BPF_PERFMON, LOADED);
        String r = report(c);
        assertTrue(r.startsWith("0\n"), r);
        assertTrue(r.contains("PASS  kernel        6.1.0-18-amd64"), r);
        assertTrue(r.contains("PASS  tracepoint    inet_sock_set_state"), r);
        assertTrue(r.contains("PASS  tracepoint    kfree_skb with SKB_DROP_REASON_TCP_LISTEN_OVERFLOW"), r);
        assertTrue(r.contains("PASS  capabilities  probe needs CAP_BPF, CAP_PERFMON; held: CAP_BPF, CAP_PERFMON"), r);
        // the unit's deliberate limits are warnings, not failures
        assertTrue(r.contains("WARN  capabilities  no CAP_SYS_ADMIN"), r);
        assertTrue(r.contains("PASS  probe         loaded"), r);
        // each feature a line: off ones are warnings with the kernel's reason
        assertTrue(r.contains("PASS  feature       stateChanges on: every TCP state change"), r);
        assertTrue(r.contains("WARN  feature       resetsSent off: the kernel refused on_send_reset: R1 invalid mem access"), r);
        assertTrue(r.contains("PASS  config        valid (defaults, no --config): listen 127.0.0.1:9470"), r);
        assertTrue(r.contains("PASS  http          http, no token (loopback only)"), r);
        assertTrue(r.strip().endsWith("result: ready (3 warnings)"), r);
    }

    @Test
    void anOldKernelWithoutBtfOrCapabilitiesFailsWithReasons() throws Exception {
        HostCheck c = host("5.4.0-150-generic", null, 0, config -> {
            throw new ProbeException("tcpulse__open", 1, "missing capability CAP_BPF and CAP_PERFMON");
        });
        String r = report(c);
        assertTrue(r.startsWith("1\n"), r);
        // the version alone decides nothing: the probe's load does
        assertTrue(r.contains("WARN  kernel        5.4.0-150-generic: older than the oldest kernel tested (5.10)"), r);
        assertTrue(r.contains("FAIL  btf           " + dir.resolve("vmlinux") + " is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y"), r);
        assertTrue(r.contains("FAIL  capabilities  missing CAP_BPF and CAP_PERFMON for the probe (held: none)"), r);
        assertTrue(r.contains("FAIL  probe         cannot load: tcpulse__open failed: EPERM"), r);
        assertTrue(r.strip().endsWith("result: NOT ready: 3 failures"), r);
    }

    @Test
    void missingTracepointsAreNamed() throws Exception {
        List<String> some = new ArrayList<>(ALL_TRACEPOINTS);
        some.remove("btf_trace_tcp_send_reset");
        some.remove("btf_trace_kfree_skb");
        String r = report(host("6.8.0", btf(some, List.of()), BPF_PERFMON, LOADED));
        // an optional tracepoint missing turns one feature off, not the probe
        assertTrue(r.startsWith("0\n"), r);
        assertTrue(r.contains("WARN  tracepoint    tcp_send_reset (RSTs sent): missing from BTF (btf_trace_tcp_send_reset), that feature is off"), r);
        some.remove("btf_trace_inet_sock_set_state");
        r = report(host("6.8.0", btf(some, List.of()), BPF_PERFMON, LOADED));
        assertTrue(r.startsWith("1\n"), r);
        assertTrue(r.contains("FAIL  tracepoint    inet_sock_set_state (every TCP state change): missing from BTF (btf_trace_inet_sock_set_state), the probe cannot load"), r);
        assertTrue(r.contains("WARN  tracepoint    kfree_skb with SKB_DROP_REASON_TCP_LISTEN_OVERFLOW: not in this kernel"), r);
    }

    @Test
    void rootCapabilitiesCoverEverything() throws Exception {
        String r = report(host("6.8.0", btf(ALL_TRACEPOINTS, List.of("SKB_DROP_REASON_TCP_LISTEN_OVERFLOW")),
                -1L >>> 23, LOADED)); // CapEff of root: 41 bits
        assertTrue(r.strip().endsWith("result: ready (1 warning)"), r); // the feature that is off
    }

    @Test
    void aBadConfigFailsAndNamesTheSetting() throws Exception {
        HostCheck c = host("6.8.0", btf(ALL_TRACEPOINTS, List.of()), BPF_PERFMON, LOADED);
        String r = report(c, "--listen", "nonsense");
        assertTrue(r.contains("FAIL  config        --listen must be HOST:PORT, got nonsense"), r);
        Path cfg = Files.writeString(dir.resolve("tcpulse.json"), "{\"listen\": \"0.0.0.0:9470\"}");
        r = report(c, "--config", cfg.toString());
        assertTrue(r.contains("PASS  config        valid (" + cfg + "): listen 0.0.0.0:9470"), r);
        assertTrue(r.contains("FAIL  http          listen address 0.0.0.0:9470 is not a loopback address"), r);
        assertTrue(r.startsWith("1\n"), r);
    }

    @Test
    void aYamlConfigIsCheckedLikeAJsonOne() throws Exception {
        HostCheck c = host("6.8.0", btf(ALL_TRACEPOINTS, List.of()), BPF_PERFMON, LOADED);
        Path yml = Files.writeString(dir.resolve("tcpulse.yml"), "listen: 127.0.0.1:9471\n");
        String r = report(c, "--config=" + yml);
        assertTrue(r.contains("PASS  config        valid (" + yml + "): listen 127.0.0.1:9471"), r);
        Path bad = Files.writeString(dir.resolve("bad.yml"), "listen: 127.0.0.1:9471\nwalk:\n  intervalMs: soon\n");
        r = report(c, "-c", bad.toString());
        assertTrue(r.contains("FAIL  config        config file " + bad + ": line 3: walk.intervalMs must be a whole number, got \"soon\""), r);
    }

    @Test
    void versionsParse() {
        assertArrayEquals(new int[] {6, 18}, HostCheck.version("6.18.44-fc-v595"));
        assertArrayEquals(new int[] {5, 9}, HostCheck.version("5.9"));
        assertArrayEquals(new int[] {4, 0}, HostCheck.version("4"));
    }

    @Test
    void capabilitiesFromProcStatus() {
        Capabilities c = Capabilities.parseStatus("Name:\tjava\nCapEff:\t000000c000000000\n");
        assertTrue(c.has(Capabilities.CAP_BPF));
        assertTrue(c.has(Capabilities.CAP_PERFMON));
        assertFalse(c.has(Capabilities.CAP_SYS_ADMIN));
        assertEquals(List.of(), c.missingForProbe());
        Capabilities none = Capabilities.parseStatus("CapEff:\t0000000000000000\n");
        assertEquals(List.of("CAP_BPF", "CAP_PERFMON"), none.missingForProbe());
        assertTrue(none.explainProbeFailure().startsWith("missing capability CAP_BPF and CAP_PERFMON (held: none)"));
        Capabilities admin = new Capabilities(1L << Capabilities.CAP_SYS_ADMIN);
        assertEquals(List.of(), admin.missingForProbe(), "CAP_SYS_ADMIN stands in for both");
        assertNull(admin.explainProbeFailure());
    }
}
