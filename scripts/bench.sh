#!/usr/bin/env bash
# Benchmarks that print figures (they are not timed tests). Needs root.
#   scripts/bench.sh storm      loopback connection storm without and with the agent (RST close)
#   scripts/bench.sh storm-fin  the same with a normal close (client FIN; tcp_max_tw_buckets=0)
#   scripts/bench.sh idle       agent CPU over 60 s on a quiet host, then with 100,000 idle
#                               established sockets in a namespace (counts checked against ss)
#   scripts/bench.sh pipeline   synthetic events through kernel rings -> Java, zero loss?
#   scripts/bench.sh listeners  agent CPU with 1,000 listeners walked every second
#   scripts/bench.sh timewait   the largest TIME_WAIT population a storm reaches: ledger vs ss, heap
#   scripts/bench.sh bounded    20,000 idle listeners walked: agent heap and CPU, /metrics size and scrape time
#   scripts/bench.sh hotspots   where the state-change program's time goes, by source line (needs perf)
#   scripts/bench.sh floor      the FIN storm with 1 and 2 empty programs on the tracepoint: the
#                               kernel's cost of calling any per-change probe, before it does work
#   scripts/bench.sh all        everything above but hotspots and floor
# SECONDS_PER_RUN (default 10) sets the length of each storm run, ROUNDS (default 5) how many
# without/with pairs the storm runs; AGENT_ARGS adds agent options (e.g.
# AGENT_ARGS="--max-events-per-sec 0" streams every event); JAVA_OPTS replaces the JVM options,
# by default those of the shipped unit (systemd/tcpulse.service).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (BPF, namespaces)" >&2; exit 1; }

jar=agent/target/tcpulse.jar
storm=agent/target/native/bin/tcpulse-storm
[[ -f $jar && -x $storm ]] || mvn -B -q -DskipTests package
secs=${SECONDS_PER_RUN:-10}
# the agent runs as the unit runs it
jvm_opts=${JAVA_OPTS-$(sed -n 's|^ExecStart=/usr/bin/java \(.*\) -jar .*|\1|p' systemd/tcpulse.service)}
port=${BENCH_PORT:-9479}
namespaces=()
agent_pid=

cleanup() {
    [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
    for ns in "${namespaces[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT

# makes a namespace named in $ns (not in a subshell: cleanup must see it)
new_ns() {
    ns=tcpulse-bench-$1-$$
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    namespaces+=("$ns")
}

json_num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" | head -1; }

# how much slower RATE is than BASE, in percent: cost_pct BASE RATE
cost_pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * (1 - b / a) }'; }

# the median of the arguments (the lower one of an even count)
median() { printf "%s\n" "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

start_agent() {
    # shellcheck disable=SC2086
    java $jvm_opts "$@" -jar "$jar" --listen "127.0.0.1:$port" ${AGENT_ARGS:-} >/tmp/tcpulse-bench-agent.log 2>&1 &
    agent_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "bench: agent did not start, see /tmp/tcpulse-bench-agent.log" >&2
    exit 1
}

stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=; }

health() { curl -sf "http://127.0.0.1:$port/api/v1/health"; }

# the last socket walk's duration (json_num micros would take the last "micros": the holders walk's)
walk_micros() { health | sed -n 's/.*"walk":{"lastMillis":[0-9]*,"micros":\([0-9]*\).*/\1/p'; }
walk_millis() { health | sed -n 's/.*"walk":{"lastMillis":\([0-9]*\),.*/\1/p'; }

prog_stat() { # a field (id, run_time_ns, run_cnt) of the agent's state-change program (newest loaded)
    bpftool -j prog show name on_state_change 2>/dev/null | tr '}' '\n' | tail -2 | json_num "$1"
}

# a storm of $1 seconds in namespace $ns, closing as STORM_CLOSE says (rst, client); prints the storm's JSON
storm_here() {
    local close=${STORM_CLOSE:-rst}
    # a client-close storm would fill the namespace with TIME_WAIT and run out of ports
    [[ $close == rst ]] || ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
    ip netns exec "$ns" "$storm" storm --seconds "$1" --close "$close" --port 9000
}

bench_storm() {
    local rounds=${ROUNDS:-5}
    echo "== storm: loopback connections/s without and with the agent (${secs}s each, close ${STORM_CLOSE:-rst}, $rounds rounds)"
    # the VM's rate drifts by several percent between runs, in phases of minutes: each round
    # runs without, with (a fresh agent), and without again, against the mean of the two
    # runs without; the median round is the figure
    local r before after again c0 c1 c2 costs=() h0 h1 seen=0 cons=0 lost=0 conns syn_sent ino
    for r in $(seq "$rounds"); do
        new_ns "nop$r"; before=$(storm_here "$secs"); ip netns del "$ns"
        start_agent
        # warm the agent's JIT up on a storm of its own: a cold JVM compiles for seconds
        new_ns "warm$r"; storm_here 6 >/dev/null; ip netns del "$ns"
        new_ns "bpf$r"
        sleep 2.5 # the agent walks the new namespace
        h0=$(health)
        after=$(storm_here "$secs")
        sleep 1
        h1=$(health)
        ino=$(stat -L -c %i "/run/netns/$ns")
        syn_sent=$(curl -sf "http://127.0.0.1:$port/api/v1/transitions?netns=$ino" \
            | grep -o '{"from":"CLOSE","to":"SYN_SENT","count":[0-9]*' | json_num count)
        conns=$(echo "$after" | json_num connections)
        ip netns del "$ns"
        stop_agent
        new_ns "nop$r-again"; again=$(storm_here "$secs"); ip netns del "$ns"
        c0=$(echo "$before" | json_num connPerSec); c1=$(echo "$after" | json_num connPerSec)
        c2=$(echo "$again" | json_num connPerSec)
        seen=$((seen + $(echo "$h1" | json_num seen) - $(echo "$h0" | json_num seen)))
        cons=$((cons + $(echo "$h1" | json_num consumed) - $(echo "$h0" | json_num consumed)))
        lost=$((lost + $(echo "$h1" | json_num lost) - $(echo "$h0" | json_num lost)))
        costs+=("$(cost_pct "$(awk -v a="$c0" -v c="$c2" 'BEGIN { print (a + c) / 2 }')" "$c1")")
        printf "round %d: %6.0f -> %6.0f -> %6.0f conn/s  (cost %s%%)  CLOSE->SYN_SENT %s of %s connects (%s)\n" "$r" "$c0" "$c1" "$c2" \
            "${costs[-1]}" "$syn_sent" "$conns" "$([[ $syn_sent == "$conns" ]] && echo exact || echo MISMATCH)"
    done
    local stats_was tw0 rc0 tw1 rc1 ratio
    start_agent
    new_ns warm; storm_here 3 >/dev/null; ip netns del "$ns"
    # kernel ns per event from a run of its own: bpf_stats itself slows every program run
    if bpftool -j prog show name on_state_change | tr '}' '\n' | grep -c '"id"' | grep -qv '^1$'; then
        echo "bench: several on_state_change programs are loaded (another agent?): figures would mix" >&2
    fi
    stats_was=$(sysctl -n kernel.bpf_stats_enabled)
    sysctl -qw kernel.bpf_stats_enabled=1
    new_ns stats
    tw0=$(prog_stat run_time_ns); rc0=$(prog_stat run_cnt)
    storm_here 3 >/dev/null
    tw1=$(prog_stat run_time_ns); rc1=$(prog_stat run_cnt)
    sysctl -qw kernel.bpf_stats_enabled="$stats_was"
    ratio=$(health | json_num samplingRatio)
    stop_agent
    printf "%s\n" "${costs[@]}" | sort -n | awk -v n="$rounds" -v s="$secs" -v cons="$cons" -v seen="$seen" \
        -v lost="$lost" -v tns=$((tw1 - tw0)) -v rc=$((rc1 - rc0)) -v ratio="$ratio" '
        { c[NR] = $1 }
        END {
        printf "cost, median of %d rounds    : %.1f%%  (rounds: %s)\n", n, c[int((n + 1) / 2)], c[1] " .. " c[n]
        printf "events seen by the kernel   : %d  (%.0f events/s)\n", seen, seen / s / n
        printf "events consumed by the agent: %d  (%.0f events/s; sampling ratio at the end %s)\n", cons, cons / s / n, ratio
        printf "events lost                 : %d\n", lost
        printf "kernel ns per event         : %.0f  (bpf_stats, state-change program, %d runs)\n", rc ? tns / rc : 0, rc
    }'
}

# Where the state-change program's time goes: perf samples the whole machine (-a -g) during a
# FIN storm; each sample inside the program counts once, at the program's own frame in its
# call chain (inclusive: time in a helper counts at the line that called it), named by
# tcpulse-jitlines' table of JIT offsets to source lines.
bench_hotspots() {
    command -v perf >/dev/null || { echo "bench: hotspots needs perf (apt-get install linux-perf)" >&2; return 1; }
    local jitlines=agent/target/native/bin/tcpulse-jitlines data id
    [[ -x $jitlines ]] || mvn -B -q -DskipTests package
    echo "== hotspots: the state-change program's time by source line, FIN storm of ${secs}s (perf -a -g, 4999 Hz)"
    data=$(mktemp -d)
    start_agent
    new_ns warm; STORM_CLOSE=client storm_here 4 >/dev/null; ip netns del "$ns"
    id=$(prog_stat id)
    "$jitlines" "$id" >"$data/lines"
    new_ns hot
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
    perf record -q -a -g -F 4999 -o "$data/perf.data" -- \
        ip netns exec "$ns" "$storm" storm --seconds "$secs" --close client --port 9000 >/dev/null 2>&1
    ip netns del "$ns"
    stop_agent
    perf script -i "$data/perf.data" -F ip,sym,symoff 2>/dev/null | python3 -c '
import bisect, collections, sys
lines = sorted((int(a, 16), n, s.strip()) for a, n, s in (l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1])))
starts = [a for a, _, _ in lines]
by_line, total, samples = collections.Counter(), 0, 0
for chain in sys.stdin.read().split("\n\n"):
    frames = [f.split() for f in chain.strip().split("\n") if f.strip()]
    samples += bool(frames)
    for f in frames:
        if len(f) > 1 and f[1].split("+")[0].endswith("_on_state_change"):
            at = int(f[1].split("+")[1], 16) - 1  # a return address: the call before it
            i = bisect.bisect_right(starts, at) - 1
            by_line[(lines[i][1], lines[i][2]) if i >= 0 else ("?", "")] += 1
            total += 1
            break
print("samples %d, in the state-change program %d (%.1f%% of both CPUs)" % (samples, total, 100.0 * total / max(1, samples)))
for (n, src), c in by_line.most_common(int(sys.argv[2])):
    print("%5.1f%%  %-22s %s" % (100.0 * c / total, n, src[:100] or "(no source line: code the compiler made)"))
' "$data/lines" "${TOP:-20}"
    rm -rf "$data"
}

agent_ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }

# the agent's CPU over $1 seconds, in % of one core
agent_cpu() {
    local t0 t1 hz
    hz=$(getconf CLK_TCK)
    t0=$(agent_ticks); sleep "$1"; t1=$(agent_ticks)
    awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$1" 'BEGIN { printf "%.2f", 100 * t / hz / s }'
}

bench_idle() {
    local secs_idle=${IDLE_SECONDS:-60} procs=5 per=20000 i ino want have ss_est quiet busy walk_us
    echo "== idle: the agent's CPU over ${secs_idle} s, quiet, then with $((procs * per)) idle established sockets"
    start_agent
    sleep 20 # past start-up and most JIT compilation
    local w0 w1
    w0=$(probe_thread_wakes)
    quiet=$(agent_cpu "$secs_idle")
    w1=$(probe_thread_wakes)
    echo "quiet host ($(ss -Htan | wc -l) TCP sockets)     : ${quiet}% of one core; the probe thread woke $((w1 - w0)) times in ${secs_idle} s"
    # $procs servers that accept and hold, $procs clients that connect and hold: $per sockets a pair
    new_ns idle
    for i in $(seq 0 $((procs - 1))); do
        ip netns exec "$ns" bash -c "ulimit -n $((per / 2 + 100)); exec $storm serve --port $((9100 + i)) --backlog 4096 --hold" >/dev/null &
    done
    sleep 1
    for i in $(seq 0 $((procs - 1))); do
        ip netns exec "$ns" bash -c "ulimit -n $((per / 2 + 100)); exec $storm connect --port $((9100 + i)) --count $((per / 2)) --close none --parallel 64" >/dev/null &
    done
    want=$((procs * per))
    for _ in $(seq 300); do
        ss_est=$(ip netns exec "$ns" ss -Htn state established | wc -l)
        [[ $ss_est -ge $want ]] && break
        sleep 1
    done
    ino=$(stat -L -c %i "/run/netns/$ns")
    sleep 10 # the agent has walked the namespace
    busy=$(agent_cpu "$secs_idle")
    have=$(curl -sf "http://127.0.0.1:$port/api/v1/states?netns=$ino" | json_num ESTABLISHED)
    ss_est=$(ip netns exec "$ns" ss -Htn state established | wc -l)
    # the figure of a quiet reconciliation walk, not of the one the 100,000 connects made
    local walked_at
    walked_at=$(walk_millis)
    for _ in $(seq 200); do
        [[ $(walk_millis) != "$walked_at" ]] && break
        sleep 1
    done
    walk_us=$(walk_micros)
    echo "with $ss_est established (ss)       : ${busy}% of one core; the agent counts $have ($([[ $have == "$ss_est" ]] && echo exact || echo MISMATCH)); last walk ${walk_us} us"
    # the walk (every namespace: kernel iterator, decode, aggregation) beside ss -tan of the namespace
    local ss_ms=() t0 t1
    for _ in 1 2 3; do
        t0=$(date +%s%N); ip netns exec "$ns" ss -tan >/dev/null; t1=$(date +%s%N)
        ss_ms+=("$(( (t1 - t0) / 1000000 ))")
    done
    echo "walk per socket                    : $(awk -v us="$walk_us" -v n="$ss_est" 'BEGIN { printf "%.0f", us * 1000 / n }') ns (a quiet reconciliation walk, the whole step: discovery, counters, iterator, decode, aggregation); ss -tan of the namespace: $(printf "%s\n" "${ss_ms[@]}" | sort -n | sed -n 2p) ms (median of ${ss_ms[*]} ms)"
    echo "reconciliation                     : a quiet host walks every $(health | json_num reconcileIntervalMillis) ms; drift $(health | sed -n 's/.*"drift":{"checkedWalks":\([0-9]*\),"sockets":\([0-9]*\).*/\2 sockets in \1 checked walks/p')"
    # one listener more that never accepts, 5 connections waiting for accept(): accept() could drain
    # them with no event, so the walks go on; they need walk the listeners only
    ip netns exec "$ns" python3 -c "import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 9199)); s.listen(16); time.sleep(100000)" &
    for _ in $(seq 50); do
        [[ -n $(ip netns exec "$ns" ss -Hltn 'sport = :9199') ]] && break
        sleep 0.2
    done
    ip netns exec "$ns" "$storm" connect --port 9199 --count 5 --close none >/dev/null &
    sleep 10
    local lw0 lw1
    lw0=$(health | json_num listenerWalks); lw0=${lw0:-0}
    busy=$(agent_cpu "$secs_idle")
    lw1=$(health | json_num listenerWalks); lw1=${lw1:-0}
    echo "and 5 connections queued for accept(): ${busy}% of one core; $((lw1 - lw0)) listeners-only walks in ${secs_idle} s"
    stop_agent
}

bench_pipeline() {
    echo "== pipeline: synthetic events (BPF_PROG_TEST_RUN) drained, decoded, aggregated by Java"
    for rate in 5000000 8000000; do
        # shellcheck disable=SC2086
        java $jvm_opts -jar "$jar" bench-pipeline --events 30000000 --rate "$rate"
    done
}

probe_thread() { # the /proc task directory of the agent's probe thread (polls and walks)
    local t
    for t in /proc/"$agent_pid"/task/*; do
        if [[ $(cat "$t/comm") == tcpulse-probe ]]; then echo "$t"; fi
    done
}

probe_thread_ticks() { awk '{print $14 + $15}' "$(probe_thread)/stat"; }

# times the probe thread went to sleep and was woken (voluntary context switches)
probe_thread_wakes() { awk '/^voluntary_ctxt_switches/ {print $2}' "$(probe_thread)/status"; }

bench_listeners() {
    echo "== listeners: the walk with 1,000 listeners every second"
    local hz a0 a1 p0 p1 h listeners sum=0 n=0 us
    hz=$(getconf CLK_TCK)
    new_ns lst
    ip netns exec "$ns" "$storm" listen-many --base-port 20000 --count 1000 >/dev/null &
    AGENT_ARGS="${AGENT_ARGS:-} --walk-interval-ms 1000" start_agent
    sleep 20 # past start-up and most JIT compilation
    a0=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat"); p0=$(probe_thread_ticks)
    for _ in $(seq 30); do
        us=$(walk_micros); sum=$((sum + us)); n=$((n + 1))
        sleep 1
    done
    a1=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat"); p1=$(probe_thread_ticks)
    listeners=$(curl -sf "http://127.0.0.1:$port/api/v1/listeners?netns=$(stat -L -c %i "/run/netns/$ns")" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
    stop_agent
    awk -v a=$((a1 - a0)) -v p=$((p1 - p0)) -v hz="$hz" -v us=$((sum / n)) -v n="$listeners" 'BEGIN {
        printf "listeners reported          : %d\n", n
        printf "walk, all namespaces        : %d us on average, once a second = %.2f%% of one core\n", us, us / 1e4
        printf "probe thread (walks, polls) : %.2f%% of one core (30 s)\n", 100 * p / hz / 30
        printf "whole agent (JIT included)  : %.2f%% of one core (30 s)\n", 100 * a / hz / 30
    }'
}

# 20,000 listeners need two processes here (RLIMIT_NOFILE's hard limit is 20,000 a process)
listen_many_py() {
    ip netns exec "$ns" python3 -c '
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for port in range(int(sys.argv[1]), int(sys.argv[1]) + int(sys.argv[2])):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(1 + port % 7); held.append(s)
print("ready", flush=True)
time.sleep(1e9)' "$1" "$2"
}

bench_bounded() {
    echo "== bounded: 20,000 idle listeners in one namespace, walked every second, agent under -Xmx256m"
    local hz a0 a1 h heap samples bytes t times=() i
    hz=$(getconf CLK_TCK)
    new_ns bnd
    listen_many_py 20000 10000 | head -1 >/dev/null &
    listen_many_py 30000 10000 | head -1 >/dev/null &
    sleep 5
    AGENT_ARGS="${AGENT_ARGS:-} --walk-interval-ms 1000" start_agent -Xmx256m
    sleep 20 # past start-up and most JIT compilation
    a0=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
    sleep 30
    a1=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
    curl -sf "http://127.0.0.1:$port/metrics" >/dev/null # the first scrape compiles the writer
    for i in 1 2 3 4 5; do
        times+=("$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/metrics")")
    done
    samples=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -vc '^#')
    bytes=$(curl -sf "http://127.0.0.1:$port/metrics" | wc -c)
    jcmd "$agent_pid" GC.run >/dev/null 2>&1 || true
    heap=$(jcmd "$agent_pid" GC.heap_info 2>/dev/null | sed -n 's/.*used \([0-9]*\)K.*/\1/p' | head -1)
    t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
    stop_agent
    echo "listeners                   : 20000 in one namespace"
    awk -v a=$((a1 - a0)) -v hz="$hz" 'BEGIN { printf "whole agent CPU             : %.2f%% of one core (30 s)\n", 100 * a / hz / 30 }'
    echo "agent heap used after GC    : $((heap / 1024)) MiB (-Xmx256m)"
    echo "/metrics                    : $samples samples, $bytes bytes"
    echo "scrape time                 : ${t}s (median of 5: ${times[*]})"
}

bench_timewait() {
    echo "== timewait: the largest TIME_WAIT population a ${secs}s client-close storm reaches"
    new_ns tw
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=1000000 \
        net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=0
    start_agent -Xmx256m
    for p in 9001 9002 9003 9004 9005 9006 9007 9008; do
        ip netns exec "$ns" "$storm" storm --seconds "$secs" --close client --threads 1 --port "$p" >/dev/null &
    done
    wait $(jobs -p | grep -v "^$agent_pid$") 2>/dev/null || true
    local ino ss_tw api_tw heap
    ino=$(stat -L -c %i "/run/netns/$ns")
    sleep 3 # two walks
    ss_tw=$(ip netns exec "$ns" ss -tanH state time-wait | wc -l)
    api_tw=$(curl -sf "http://127.0.0.1:$port/api/v1/timewait?netns=$ino" | json_num total)
    jcmd "$agent_pid" GC.run >/dev/null 2>&1 || true
    heap=$(jcmd "$agent_pid" GC.heap_info 2>/dev/null | sed -n 's/.*used \([0-9]*\)K.*/\1/p' | head -1)
    local walk_us
    walk_us=$(walk_micros)
    stop_agent
    echo "TIME_WAIT in ss              : $ss_tw"
    echo "TIME_WAIT in the ledger      : $api_tw ($([[ $ss_tw == "$api_tw" ]] && echo exact || echo MISMATCH))"
    echo "agent heap used after GC     : $((heap / 1024)) MiB (agent run with -Xmx256m)"
    echo "walk of the namespace        : $walk_us us"
}

# The same FIN storm with nothing attached, then 1 and 2 empty tp_btf programs on
# sock:inet_sock_set_state (tcpulse-floor), rounds interleaved: what any probe that runs per
# state change costs before its first instruction. tcpulse attaches two programs (the twin).
bench_floor() {
    local floor=agent/target/native/bin/tcpulse-floor rounds=${ROUNDS:-5} r n rate fpid base
    [[ -x $floor ]] || mvn -B -q -DskipTests package
    echo "== floor: FIN storm conn/s with 0, 1 and 2 empty programs on the tracepoint (${secs}s each, $rounds rounds)"
    local -a cost1=() cost2=()
    new_ns floor
    for r in $(seq "$rounds"); do
        local line="round $r:"
        for n in 0 1 2; do
            fpid=
            if ((n > 0)); then
                "$floor" "$n" >/dev/null & fpid=$!
                sleep 1
            fi
            rate=$(STORM_CLOSE=client storm_here "$secs" | json_num connPerSec)
            [[ -n $fpid ]] && { kill "$fpid"; wait "$fpid" 2>/dev/null || true; }
            ((n == 0)) && base=$rate
            ((n == 1)) && cost1+=("$(cost_pct "$base" "$rate")")
            ((n == 2)) && cost2+=("$(cost_pct "$base" "$rate")")
            line+=$(printf "  %d: %6.0f" "$n" "$rate")
        done
        echo "$line conn/s  (cost ${cost1[-1]}%, ${cost2[-1]}%)"
    done
    ip netns del "$ns"
    printf "cost of 1 empty program, median : %s%%  (rounds: %s)\n" "$(median "${cost1[@]}")" "${cost1[*]}"
    printf "cost of 2 empty programs, median: %s%%  (rounds: %s)\n" "$(median "${cost2[@]}")" "${cost2[*]}"
}

case ${1:-all} in
    storm) bench_storm ;;
    storm-fin) STORM_CLOSE=client bench_storm ;;
    idle) bench_idle ;;
    pipeline) bench_pipeline ;;
    listeners) bench_listeners ;;
    timewait) bench_timewait ;;
    bounded) bench_bounded ;;
    hotspots) bench_hotspots ;;
    floor) bench_floor ;;
    all) bench_storm; STORM_CLOSE=client bench_storm; bench_idle; bench_pipeline; bench_listeners; bench_timewait; bench_bounded ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
esac
