#!/usr/bin/env bash
# Installs tcpulse on a server as a systemd service running without root, with run-time
# dependencies only (a Java 17 runtime, libelf, zlib: scripts/install-deps.sh runtime);
# nothing a build or a test needs. Two ways:
#
#   sudo scripts/install.sh --deb FILE   the Debian package (scripts/build-deb.sh makes it):
#                                        apt-get installs it with its Depends; the package's
#                                        own scripts enable and start the service
#   sudo scripts/install.sh              the built artifacts, as below
#
# The artifacts:
#   /usr/lib/tcpulse/tcpulse.jar                the agent
#   /usr/bin/tcpulse                            the CLI: `tcpulse check`, `tcpulse --help`
#   /etc/systemd/system/tcpulse.service         the hardened unit (DynamicUser, CAP_BPF+CAP_PERFMON)
#   /etc/tcpulse/tcpulse.yml                    example config, only if there is none yet
#   /usr/share/doc/tcpulse/operations.md        what all of it means
# The jar is agent/target/tcpulse.jar (or $TCPULSE_JAR). When it is missing, it is built
# by the user who ran sudo ($SUDO_USER), never by root from a checkout: build it yourself
# first (`scripts/install-deps.sh build` as root once, then `mvn -DskipTests package`).
# Idempotent: run it again after an upgrade; it says what it changed.
#
# usage: scripts/install.sh [--deb FILE] [--no-build] [--no-start]
#   --deb FILE   install the Debian package FILE instead of the artifacts
#   --no-build   install the jar as it is; never build
#   --no-start   install and enable, but do not (re)start the service
# DESTDIR=/some/root installs the artifacts under that root and leaves systemd and apt
# alone (tests).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=1 start=1 deb=
while (($#)); do
    case $1 in
        --deb) [[ $# -ge 2 ]] || { echo "install.sh: --deb needs a file" >&2; exit 2; }; deb=$2; shift ;;
        --deb=*) deb=${1#--deb=} ;;
        --no-build) build=0 ;;
        --no-start) start=0 ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
dest=${DESTDIR:-}
jar=${TCPULSE_JAR:-$repo/agent/target/tcpulse.jar}
[[ -n ${TCPULSE_JAR:-} ]] && build=0

if [[ -z $dest && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (it writes to /usr/lib, /etc and /etc/systemd/system)" >&2
    exit 1
fi

say() { printf 'tcpulse: %s\n' "$*"; }

if [[ -n $deb ]]; then
    [[ -f $deb ]] || { echo "install.sh: $deb does not exist (scripts/build-deb.sh makes it)" >&2; exit 1; }
    [[ -z $dest ]] || { echo "install.sh: --deb installs into this system; DESTDIR is for the artifacts" >&2; exit 2; }
    say "installing $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) with its run-time dependencies"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$(realpath "$deb")"
    say "installed; check it: tcpulse check; systemctl status tcpulse"
    exit 0
fi

if [[ -z $dest ]] && dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q "ok installed"; then
    echo "install.sh: tcpulse is installed as a Debian package: upgrade it with --deb FILE (or apt-get)," \
        "or apt-get remove it before installing the artifacts" >&2
    exit 1
fi

if [[ ! -f $jar ]]; then
    if ((build)) && [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]] && command -v mvn >/dev/null; then
        say "building as $SUDO_USER (mvn -DskipTests package), never as root"
        runuser -u "$SUDO_USER" -- bash -c 'cd "$1" && mvn -B -q -DskipTests package' _ "$repo"
    else
        echo "install.sh: $jar does not exist. Build it as yourself first, not as root:" >&2
        echo "  sudo scripts/install-deps.sh build && mvn -DskipTests package" >&2
        echo "or install the package: sudo scripts/install.sh --deb tcpulse_VERSION_amd64.deb" >&2
        exit 1
    fi
fi
[[ -n $dest ]] || "$repo/scripts/install-deps.sh" runtime

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
exec java -XX:TieredStopAtLevel=1 -jar /usr/lib/tcpulse/tcpulse.jar "$@"
EOF
put "$wrapper" /usr/bin/tcpulse 0755

install -d -m 0755 "$dest/etc/tcpulse"
if [[ -e $dest/etc/tcpulse/tcpulse.yml ]]; then
    say "kept       /etc/tcpulse/tcpulse.yml (yours; the example is examples/tcpulse.yml)"
else
    install -m 0644 "$repo/examples/tcpulse.yml" "$dest/etc/tcpulse/tcpulse.yml"
    say "installed  /etc/tcpulse/tcpulse.yml (example: listens on 127.0.0.1:9470)"
    if [[ -e $dest/etc/tcpulse/tcpulse.json ]]; then
        say "WARNING    /etc/tcpulse/tcpulse.json (an earlier install's) is no longer read: the unit reads"
        say "           tcpulse.yml; move your settings there (the same keys in YAML), then remove the .json"
    fi
fi

if [[ -n $dest ]]; then
    say "DESTDIR=$dest: systemd left alone"
    exit 0
fi
# systemd is the init system only when this directory exists (sd_booted(3))
if [[ ! -d /run/systemd/system ]]; then
    say "systemd is not running here (PID 1 is $(ps -o comm= -p 1 2>/dev/null || echo unknown)):"
    say "  skipped daemon-reload and enable; the unit takes effect on a systemd host."
    say "  run it by hand: tcpulse --config /etc/tcpulse/tcpulse.yml"
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
