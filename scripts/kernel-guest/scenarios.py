#!/usr/bin/env python3
"""Exact tcpulse scenarios on whatever kernel this runs on: a QEMU guest of
scripts/kernel-matrix.sh, or the host itself.

Each scenario makes a network namespace of its own, drives loopback traffic there
and compares the agent's figures (queried with ?netns=INODE) with that namespace's
ground truth (ss, /proc/net/netstat, /proc/net/snmp), as the Java kernel tests in
agent/src/test/java/io/tcpulse/agent/kernel/ do. Standard library only; needs root,
iproute2 (ip netns, ss) and a JDK.

Output: a readable report, and one machine line per scenario,
    RESULT <name> PASS|FAIL|SKIP <detail>
plus INFO/FEATURE/VERIFIER lines that kernel-matrix.sh collects into its table.

    scenarios.py run --jar tcpulse.jar [--java JAVA] [--port N] [--out DIR] [--slow F] [--only a,b]

The traffic runs inside the namespaces through `ip netns exec ... scenarios.py helper
ROLE` (python 3.11 has no os.setns): each helper makes its sockets, prints "ready" and
holds them until its stdin closes.
"""

import argparse
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

SCENARIOS = ["startup", "transitions", "overflow", "timewait", "resets"]
HERE = os.path.abspath(__file__)
# the JVM under TCG emulation starts far faster without C2
JAVA_OPTS = os.environ.get("TCPULSE_JAVA_OPTS", "-XX:TieredStopAtLevel=1").split()
SLOW = 1.0  # deadline multiplier (--slow): emulated guests are 5-20x slower


def log(msg=""):
    print(msg, flush=True)


def deadline(seconds):
    return time.monotonic() + seconds * SLOW


def wait_for(fn, seconds, interval=0.25, settle=2.0):
    """Polls fn() -> (ok, value) until ok, or until value (the figures compared, agent's
    and ground truth's) has not changed for `settle` seconds (times --slow; None: never), or the
    deadline: a figure that stopped moving without matching will not match later.
    Returns the last (ok, value)."""
    end = deadline(seconds)
    last, since = None, time.monotonic()
    while True:
        ok, value = fn()
        now = time.monotonic()
        if ok or now > end:
            return ok, value
        if value != last:
            last, since = value, now
        elif settle is not None and now - since > settle * SLOW:
            return ok, value
        time.sleep(interval)


# ---------------------------------------------------------------- namespaces

class Netns:
    """An `ip netns` namespace with loopback up; its helpers are stopped and it is
    deleted on close."""

    def __init__(self, tag):
        self.name = "tcpulse-m%d-%s" % (os.getpid(), tag)
        self.helpers = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.inode = os.stat("/run/netns/" + self.name).st_ino

    def run(self, *cmd):
        return subprocess.run(["ip", "netns", "exec", self.name] + list(cmd), check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120).stdout

    def helper(self, role, *args):
        """Starts a helper inside the namespace and waits for its "ready"."""
        p = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-u", HERE,
                              "helper", role] + [str(a) for a in args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.helpers.append(p)
        end = deadline(60)
        out = []
        while time.monotonic() < end:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                line = p.stdout.readline()
                if not line:
                    break
                if line.startswith("ready"):
                    return line.split()[1:]
                out.append(line.rstrip())
        raise RuntimeError("helper %s did not start: %s" % (role, " | ".join(out)))

    def ss_counts(self):
        """ss -tan in the namespace, per state, named as the API names them."""
        out = {}
        for line in self.run("ss", "-tanH").splitlines():
            if not line.strip():
                continue
            st = line.split()[0]
            if st == "UNCONN":
                continue
            name = "ESTABLISHED" if st == "ESTAB" else st.replace("-", "_").replace("FIN_WAIT_", "FIN_WAIT")
            out[name] = out.get(name, 0) + 1
        return out

    def settled_ss(self, states, seconds=10):
        """ss once it shows exactly these states and two reads 300 ms apart agree."""
        last = None
        end = deadline(seconds)
        while time.monotonic() < end:
            now = self.ss_counts()
            if set(now) == set(states) and now == last:
                return now
            last = now
            time.sleep(0.3)
        raise RuntimeError("ss never settled on %s: %s" % (sorted(states), last))

    def _counters(self, path, prefix):
        lines = [l.split() for l in self.run("cat", path).splitlines() if l.startswith(prefix)]
        names, values = lines[0][1:], lines[1][1:]
        return {n: int(v) for n, v in zip(names, values)}

    def tcp_ext(self):
        return self._counters("/proc/net/netstat", "TcpExt:")

    def snmp_tcp(self):
        return self._counters("/proc/net/snmp", "Tcp:")

    def close(self):
        for p in self.helpers:
            try:
                p.stdin.close()
                p.wait(10)
            except Exception:
                p.kill()
        subprocess.run(["ip", "netns", "del", self.name])


# ---------------------------------------------------------------- agent

class Agent:
    """The agent jar in a process of its own, libbpf's messages on (TCPULSE_DEBUG)."""

    def __init__(self, args, tag, extra):
        self.port = args.port or free_port()
        self.err_path = os.path.join(args.out, "agent-%s.log" % tag)
        state = os.path.join(args.out, "state-" + tag)
        os.makedirs(state, exist_ok=True)
        env = dict(os.environ, TCPULSE_DEBUG="1")
        self.started = time.monotonic()
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([args.java] + JAVA_OPTS + ["-jar", args.jar,
                                          "--listen", "127.0.0.1:%d" % self.port,
                                          "--state-dir", state] + extra,
                                         stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=subprocess.STDOUT, env=env)
        ok, why = wait_for(self._up, 60, 0.5, settle=None)
        if not ok:
            self.stop()
            raise RuntimeError("agent did not answer on port %d: %s" % (self.port, why))
        self.startup_seconds = time.monotonic() - self.started

    def _up(self):
        if self.proc.poll() is not None:
            return True, "exited %d" % self.proc.returncode
        try:
            self.get("/api/v1/health")
            return True, None
        except (OSError, urllib.error.URLError) as e:
            return False, str(e)

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
            return json.loads(r.read())

    def states(self, inode):
        """/api/v1/states of one namespace folded as ss shows them (request sockets as SYN_RECV)."""
        out = {}
        for name, n in self.get("/api/v1/states?netns=%d" % inode)["states"].items():
            name = "SYN_RECV" if name == "NEW_SYN_RECV" else name
            if n:
                out[name] = out.get(name, 0) + n
        return out

    def transitions(self, inode):
        """(exact kernel counters as {"FROM>TO": n}, sum of the derived timewait rows)."""
        rows = self.get("/api/v1/transitions?netns=%d" % inode)["transitions"]
        exact = {r["from"] + ">" + r["to"]: r["count"] for r in rows if not r.get("derived")}
        return exact, sum(r["count"] for r in rows if r.get("derived"))

    def listener(self, inode, port):
        body = self.get("/api/v1/listeners?netns=%d" % inode)
        mine = [l for l in body.get("listeners", []) if l.get("port") == port]
        return (mine[0] if mine else None), body.get("netstat", {}).get(str(inode))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- report helpers

def report_check(args):
    """`tcpulse check`, verbatim; its verdict line goes into the matrix."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([args.java] + JAVA_OPTS + ["-jar", args.jar, "check"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=240 * SLOW)
        out, rc = r.stdout, r.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
    log("== tcpulse check (exit %s, %.1fs)" % (rc, time.monotonic() - t0))
    for line in out.splitlines():
        log("  | " + line)
    verdict = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("result:")), "none")
    log("INFO check %s" % ("none" if not verdict else "not-ready" if verdict.startswith("NOT")
                           else "ready" + ("(warn)" if "warn" in verdict else "")))
    with open(os.path.join(args.out, "check.txt"), "w") as f:
        f.write(out)


def features_of(agent):
    """{name: (on, reason)} from /api/v1/health's probe.features."""
    feats = agent.get("/api/v1/health").get("probe", {}).get("features") or []
    return {f["name"]: (f["on"], f.get("reason") or "") for f in feats}


def report_health(agent):
    health = agent.get("/api/v1/health")
    probe = health.get("probe", {})
    log("== /api/v1/health")
    log("  | " + json.dumps(health, sort_keys=True))
    log("INFO probe %s" % (probe.get("mode") or ("bpf" if probe.get("available") else "none")))
    if probe.get("cause"):
        log("INFO cause %s" % " ".join(str(probe["cause"]).split()))
    for f in probe.get("features") or []:
        log("FEATURE %s %s %s" % (f["name"], "on" if f["on"] else "off", f.get("reason") or ""))
    return probe


def report_libbpf(path, tail):
    """libbpf's own lines from the agent's log, and the tail of each failing program's
    verifier log (between BEGIN/END PROG LOAD LOG)."""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    out, block, prog, failing = [], None, None, []
    for line in lines:
        m = re.search(r"prog '([^']+)': -- BEGIN PROG LOAD LOG --", line)
        if m:
            block, prog = [], m.group(1)
            out.append(line)
            continue
        if block is not None:
            if "-- END PROG LOAD LOG --" in line:
                if len(block) > tail:
                    out.append("  ... (%d earlier lines of the verifier log in %s)" % (len(block) - tail, os.path.basename(path)))
                out.extend(block[-tail:])
                out.append(line)
                reason = next((l for l in reversed(block) if l.strip() and not l.startswith("processed ")
                               and not l.startswith("verification time")), "")
                failing.append((prog, reason.strip()))
                block = None
            else:
                block.append(line)
            continue
        if line.startswith("libbpf:") or "tcpulse" in line and ("probe" in line.lower() or "bpf" in line.lower()):
            out.append(line)
    if not out:
        return
    log("== libbpf and probe lines of the agent's log (%s)" % os.path.basename(path))
    for line in out:
        log("  | " + line)
    for prog, reason in failing:
        log("VERIFIER %s %s" % (prog, reason))


# ---------------------------------------------------------------- scenarios
# each returns (passed, detail); an exception is a FAIL with its message

CLIENT_CLOSE = ["CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED",
                "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE",
                "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"]


def prepare_startup(ns):
    """Sockets made before the agent starts; returns the settled ss counts."""
    ns.helper("startup")
    ss = ns.settled_ss({"LISTEN", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT"})
    if ss.get("LISTEN") != 3 or ss.get("ESTABLISHED") != 6:
        raise RuntimeError("unexpected population: %s" % ss)
    return ss


def scenario_startup(agent, ns, expected):
    api = agent.states(ns.inode)
    now = ns.ss_counts()
    if api == expected and now == expected:
        return True, "%s from the start-up walk (agent up in %.0fs)" % (fmt(expected), agent.startup_seconds)
    return False, "api %s, ss before the agent %s, ss now %s" % (fmt(api), fmt(expected), fmt(now))


def scenario_transitions(agent, n=100):
    ns = Netns("trans")
    try:
        ns.helper("pairs", 8001, n, 0)
        expected = {"CLOSE>LISTEN": 1}
        expected.update({t: n for t in CLIENT_CLOSE})
        ok, got = wait_for(lambda: _eq(expected, agent.transitions(ns.inode)[0]), 15)
        if ok:  # exact counters only grow: a second read catches counts that come late
            time.sleep(1)
            ok, got = _eq(expected, agent.transitions(ns.inode)[0])
        if not ok:
            return False, "transitions differ (api!=expected): %s; %s" % (
                diff(expected, got), streamed(agent, ns.inode, expected, got))
        derived = agent.transitions(ns.inode)[1]
        if derived != n:
            return False, "transitions exact, but %d timewait hand-overs (derived rows), expected %d" % (derived, n)
        ok, states = wait_for(lambda: _eq(ns.ss_counts(), agent.states(ns.inode)), 10)
        if not ok:
            return False, "transitions exact; states %s vs ss %s" % (fmt(states), fmt(ns.ss_counts()))
        return True, "%d rows exact (%dx%d + CLOSE>LISTEN), %d timewait hand-overs, states = ss %s" % (
            len(expected), len(CLIENT_CLOSE), n, derived, fmt(states))
    finally:
        ns.close()


def scenario_overflow(agent):
    ns = Netns("ovf")
    try:
        before = ns.tcp_ext()
        ns.helper("overflow", 8201, 2, 8)

        def check():
            l, netstat = agent.listener(ns.inode, 8201)
            ext = ns.tcp_ext()
            truth = (ext["ListenOverflows"] - before["ListenOverflows"], ext["ListenDrops"] - before["ListenDrops"])
            if l is None:
                return False, "listener 8201 not listed; TcpExt overflows/drops %s" % (truth,)
            got = (l.get("overflows"), l.get("drops"))
            ok = got == truth and truth[0] > 0 and l.get("acceptQueueMax") == 2 \
                and netstat is not None and netstat.get("ListenOverflows") == ext["ListenOverflows"]
            return ok, "listener overflows/drops %s, TcpExt ListenOverflows/ListenDrops %s, acceptQueue %s/%s, " \
                       "netstat ListenOverflows %s, verdict %s" % (
                           got, truth, l.get("acceptQueue"), l.get("acceptQueueMax"),
                           (netstat or {}).get("ListenOverflows"), l.get("verdict"))
        return wait_for(check, 20, 0.5)
    finally:
        ns.close()


def scenario_timewait(agent, n=300):
    ns = Netns("tw")
    try:
        ns.helper("pairs", 8401, n, 1)  # tcp_tw_reuse off: every TIME_WAIT stays
        ss = ns.settled_ss({"LISTEN", "TIME_WAIT"})
        tw = len([l for l in ns.run("ss", "-tanH", "state", "time-wait").splitlines() if l.strip()])

        def check():
            body = agent.get("/api/v1/timewait?netns=%d" % ns.inode)
            return body.get("total") == tw, body
        ok, body = wait_for(check, 15, 0.5)
        top = (body.get("byRemote") or [{}])[0]
        detail = "ledger total %s, ss time-wait %d (of %d connections; ss %s), top %s=%s" % (
            body.get("total"), tw, n, fmt(ss), top.get("remote"), top.get("count"))
        return ok, detail
    finally:
        ns.close()


def scenario_resets(agent):
    ns = Netns("rst")
    try:
        before = ns.snmp_tcp()
        ns.helper("resets", 8403, 8404, 3, 4)
        out_rsts = ns.snmp_tcp()["OutRsts"] - before["OutRsts"]
        sent, received = 3 + 4, 3 + 4  # refused SYNs + aborts; SYN_SENT clients + aborted children
        # where the kernel side cannot see RSTs of closed ports, health says so: they are
        # the 3 refused SYNs' answers, and everything else must still be exact
        closed_port, why = features_of(agent).get("closedPortResets", (True, ""))
        refused_expected = 3 if closed_port else 0
        sent_expected = out_rsts - (0 if closed_port else 3)

        def check():
            body = agent.get("/api/v1/resets?netns=%d" % ns.inode)
            refused = sum(p.get("count", 0) for p in body.get("byPeer", [])
                          if p.get("localPort") == 8404 and p.get("direction") == "sent")
            got = (body.get("sent"), body.get("received"), refused)
            return got == (sent_expected, received, refused_expected), got
        ok, got = wait_for(check, 10, 0.5)
        detail = "api sent/received/refused-at-8404 %s, expected (%d, %d, %d); OutRsts %d%s" % (
            got, sent_expected, received, refused_expected, out_rsts,
            "" if closed_port else " (closedPortResets off: %s)" % why.split(": those")[0])
        if out_rsts != sent:
            ok, detail = False, detail + " (ground truth moved: OutRsts should be %d)" % sent
        if not ok:
            # what the kernel side reported, RST by RST: tells a missing tracepoint from a wrong port
            events = agent.get("/api/v1/events?netns=%d&limit=100" % ns.inode).get("events", [])
            detail += "; RST events: " + ", ".join(
                "%s %s->%s:%s %s" % (e.get("kind"), e.get("localPort"), e.get("remote"), e.get("remotePort"),
                                    e.get("to")) for e in events if "RESET" in str(e.get("kind")))
        return ok, detail
    finally:
        ns.close()


def streamed(agent, inode, expected, got):
    """What the event stream saw of the rows that differ, and the health's event
    counters: tells a change the kernel side never handled from one it counted wrong."""
    events = agent.get("/api/v1/events?netns=%d&limit=10000" % inode).get("events", [])
    seen = {}
    for e in events:
        if e.get("kind") == "STATE":
            k = "%s>%s" % (e.get("from"), e.get("to"))
            seen[k] = seen.get(k, 0) + 1
    rows = [k for k in sorted(set(expected) | set(got)) if got.get(k, 0) != expected.get(k, 0)]
    stats = agent.get("/api/v1/health").get("events", {})
    return "streamed events of those rows: %s; health events %s" % (
        ", ".join("%s %d" % (k, seen.get(k, 0)) for k in rows),
        ", ".join("%s %s" % kv for kv in sorted(stats.items())))


def _eq(want, got):
    return want == got, got


def fmt(d):
    return "{" + ", ".join("%s:%s" % kv for kv in sorted(d.items())) + "}"


def diff(want, got):
    keys = sorted(set(want) | set(got))
    return ", ".join("%s %s!=%s" % (k, got.get(k, 0), want.get(k, 0)) for k in keys if got.get(k, 0) != want.get(k, 0))


# ---------------------------------------------------------------- helpers (inside a namespace)

def sysctl(key, value):
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


def listener(port, backlog):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def client_close_pairs(srv, port, n):
    """n connections closed by the client first; the server closes on EOF."""
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.close()
        s, _ = srv.accept()
        while s.recv(4096):
            pass
        s.close()


def helper(role, args):
    keep = []
    if role == "startup":
        # FIN_WAIT2 orphans would time out (tcp_fin_timeout, 60 s) while a slow guest starts the agent
        sysctl("net.ipv4.tcp_fin_timeout", 600)
        # 5 x CLOSE_WAIT (server never closes) + 5 x FIN_WAIT2 (their clients)
        a = listener(8101, 64)
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", 8101))
            c.close()
            keep.append(a.accept()[0])
        # 3 held connections: 6 x ESTABLISHED
        b = listener(8102, 64)
        for _ in range(3):
            keep.append(socket.create_connection(("127.0.0.1", 8102)))
            keep.append(b.accept()[0])
        # 7 x TIME_WAIT, made last: they live 60 s
        t = listener(8103, 64)
        client_close_pairs(t, 8103, 7)
        keep += [a, b, t]
    elif role == "pairs":
        port, n, no_reuse = (int(x) for x in args)
        if no_reuse:
            sysctl("net.ipv4.tcp_tw_reuse", 0)
        srv = listener(port, 4096)
        client_close_pairs(srv, port, n)
        keep.append(srv)
    elif role == "overflow":
        port, backlog, clients = (int(x) for x in args)
        keep.append(listener(port, backlog))
        for _ in range(clients):  # never accepted
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            keep.append(c)
            time.sleep(0.05)
    elif role == "resets":
        port, closed, refused, aborts = (int(x) for x in args)
        keep.append(listener(port, 64))
        for _ in range(refused):  # nobody listens there: each SYN is answered with a RST
            c = socket.socket()
            c.connect_ex(("127.0.0.1", closed))
            c.close()
        for _ in range(aborts):  # SO_LINGER 0: close() aborts with a RST
            c = socket.create_connection(("127.0.0.1", port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
    else:
        raise SystemExit("unknown helper role " + role)
    print("ready", flush=True)
    sys.stdin.read()  # hold the sockets until the parent lets go


# ---------------------------------------------------------------- main

def run(args):
    os.makedirs(args.out, exist_ok=True)
    only = [s for s in (args.only or ",".join(SCENARIOS)).split(",") if s]
    log("== kernel %s, %d CPUs" % (os.uname().release, os.cpu_count()))
    log("INFO kernel %s" % os.uname().release)
    results = {}

    def record(name, fn):
        t0 = time.monotonic()
        try:
            ok, detail = fn()
        except Exception as e:  # a scenario that cannot run is a failure, said why
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        results[name] = ok
        log("RESULT %s %s %s (%.1fs)" % (name, "PASS" if ok else "FAIL", " ".join(str(detail).split()),
                                         time.monotonic() - t0))

    report_check(args)

    # (a) sockets that exist before the agent: a long walk interval, so the answer is
    # the start-up walk's alone
    agent = None
    startup_ns = None
    try:
        if "startup" in only:
            startup_ns = Netns("startup")
            expected = prepare_startup(startup_ns)
        agent = Agent(args, "startup", ["--walk-interval-ms", "600000"])
        log("INFO agent-start %.1fs" % agent.startup_seconds)
        report_health(agent)
        if startup_ns:
            record("startup", lambda: scenario_startup(agent, startup_ns, expected))
    except Exception as e:
        if "startup" in only:
            log("RESULT startup FAIL %s: %s" % (type(e).__name__, e))
            results["startup"] = False
    finally:
        if agent:
            agent.stop()
            report_libbpf(agent.err_path, args.verifier_tail)
        if startup_ns:
            startup_ns.close()

    # (b)-(e) on an agent that walks twice a second and streams every event, as the
    # Java kernel tests run it
    rest = [s for s in only if s != "startup"]
    if rest:
        try:
            agent = Agent(args, "main", ["--walk-interval-ms", "500", "--max-events-per-sec", "0"])
        except Exception as e:
            for name in rest:
                log("RESULT %s FAIL agent did not start: %s" % (name, e))
                results[name] = False
            agent = None
        if agent:
            try:
                fns = {"transitions": lambda: scenario_transitions(agent),
                       "overflow": lambda: scenario_overflow(agent),
                       "timewait": lambda: scenario_timewait(agent),
                       "resets": lambda: scenario_resets(agent)}
                for name in rest:
                    record(name, fns[name])
            finally:
                agent.stop()
    passed = sum(1 for ok in results.values() if ok)
    log("SUMMARY %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


def main():
    global SLOW
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the scenarios against the jar")
    r.add_argument("--jar", required=True)
    r.add_argument("--java", default="java")
    r.add_argument("--port", type=int, default=0, help="agent port (default: a free one)")
    r.add_argument("--out", default="/tmp/tcpulse-scenarios", help="agent logs and check output")
    r.add_argument("--slow", type=float, default=1.0, help="deadline multiplier")
    r.add_argument("--only", default="", help="comma-separated subset of " + ",".join(SCENARIOS))
    r.add_argument("--verifier-tail", type=int, default=40, help="verifier log lines shown per failing program")
    h = sub.add_parser("helper")
    h.add_argument("role")
    h.add_argument("args", nargs="*")
    args = ap.parse_args()
    if args.cmd == "helper":
        helper(args.role, args.args)
        return 0
    SLOW = args.slow
    if os.geteuid() != 0:
        raise SystemExit("scenarios.py needs root (network namespaces, BPF)")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
