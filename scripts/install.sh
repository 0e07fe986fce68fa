#!/usr/bin/env bash
# Builds tcpulse and installs it as a systemd service running without root:
#   /usr/lib/tcpulse/tcpulse.jar                the agent
#   /usr/bin/tcpulse                            wrapper: `tcpulse check`, `tcpulse --help`
#   /etc/systemd/system/tcpulse.service         the hardened unit (DynamicUser, CAP_BPF+CAP_PERFMON)
#   /etc/tcpulse/tcpulse.json                   example config, only if there is none yet
#   /usr/share/doc/tcpulse/operations.md        what all of it means
# Idempotent: run it again after `git pull` to upgrade; it says what it changed.
# No user is created: the unit uses DynamicUser=yes (docs/operations.md says why).
#
# usage: scripts/install.sh [--no-build] [--no-start]
#   --no-build   install agent/target/tcpulse.jar as it is (or $TCPULSE_JAR)
#   --no-start   install and enable, but do not (re)start the service
# DESTDIR=/some/root installs under that root and leaves systemd alone (packaging, tests).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=1 start=1
for arg in "$@"; do
    case $arg in
        --no-build) build=0 ;;
        --no-start) start=0 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done
dest=${DESTDIR:-}
jar=${TCPULSE_JAR:-$repo/agent/target/tcpulse.jar}
[[ -n ${TCPULSE_JAR:-} ]] && build=0

if [[ -z $dest && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (it writes to /usr/lib, /etc and /etc/systemd/system)" >&2
    exit 1
fi

say() { printf 'tcpulse: %s\n' "$*"; }

if ((build)); then
    say "building (scripts/install-deps.sh, then mvn package)"
    "$repo/scripts/install-deps.sh"
    (cd "$repo" && mvn -B -q -DskipTests package)
fi
if [[ ! -f $jar ]]; then
    echo "install.sh: $jar does not exist: build it (drop --no-build) or set TCPULSE_JAR" >&2
    exit 1
fi

changed=0
# put FILE at TARGET with MODE; reports installed / updated / unchanged
put() {
    local src=$1 target=$dest$2 mode=$3
    if [[ -f $target ]] && cmp -s "$src" "$target"; then
        say "unchanged  $2"
        return
    fi
    local verb=installed
    [[ -e $target ]] && verb=updated
    install -D -m "$mode" "$src" "$target"
    say "$verb  $2"
    changed=1
}

put "$jar" /usr/lib/tcpulse/tcpulse.jar 0644
put "$repo/systemd/tcpulse.service" /etc/systemd/system/tcpulse.service 0644
put "$repo/docs/operations.md" /usr/share/doc/tcpulse/operations.md 0644

wrapper=$(mktemp)
trap 'rm -f "$wrapper"' EXIT
cat >"$wrapper" <<'EOF'
#!/bin/sh
# installed by tcpulse's scripts/install.sh: runs the agent's jar (e.g. `tcpulse check`)
exec java -jar /usr/lib/tcpulse/tcpulse.jar "$@"
EOF
put "$wrapper" /usr/bin/tcpulse 0755

install -d -m 0755 "$dest/etc/tcpulse"
if [[ -e $dest/etc/tcpulse/tcpulse.json ]]; then
    say "kept       /etc/tcpulse/tcpulse.json (yours; the example is examples/tcpulse.json)"
else
    install -m 0644 "$repo/examples/tcpulse.json" "$dest/etc/tcpulse/tcpulse.json"
    say "installed  /etc/tcpulse/tcpulse.json (example: listens on 127.0.0.1:9470)"
fi

if [[ -n $dest ]]; then
    say "DESTDIR=$dest: systemd left alone"
    exit 0
fi
# systemd is the init system only when this directory exists (sd_booted(3))
if [[ ! -d /run/systemd/system ]]; then
    say "systemd is not running here (PID 1 is $(ps -o comm= -p 1 2>/dev/null || echo unknown)):"
    say "  skipped daemon-reload and enable; the unit takes effect on a systemd host."
    say "  run it by hand: java -jar /usr/lib/tcpulse/tcpulse.jar --config /etc/tcpulse/tcpulse.json"
    exit 0
fi
systemctl daemon-reload
say "systemctl daemon-reload"
if ! systemctl is-enabled --quiet tcpulse.service; then
    systemctl enable tcpulse.service
    say "enabled    tcpulse.service"
fi
if ((start)); then
    if ! systemctl is-active --quiet tcpulse.service; then
        systemctl start tcpulse.service
        say "started    tcpulse.service"
    elif ((changed)); then
        systemctl restart tcpulse.service
        say "restarted  tcpulse.service (files changed)"
    else
        say "running    tcpulse.service (nothing changed)"
    fi
    say "check it:  systemctl status tcpulse; curl -s http://127.0.0.1:9470/api/v1/health"
fi
