#!/usr/bin/env bash
# Removes what scripts/install.sh installed. Keeps the state (/var/lib/tcpulse: alert
# outbox, history) and a config you changed, unless --purge.
#
# usage: scripts/uninstall.sh [--purge]
#   --purge   also remove /etc/tcpulse and /var/lib/tcpulse
# DESTDIR=/some/root works as for install.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
purge=0
for arg in "$@"; do
    case $arg in
        --purge) purge=1 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done
dest=${DESTDIR:-}
if [[ -z $dest && $(id -u) -ne 0 ]]; then
    echo "uninstall.sh: run as root" >&2
    exit 1
fi

say() { printf 'tcpulse: %s\n' "$*"; }

if [[ -z $dest ]] && dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q "ok installed"; then
    echo "uninstall.sh: tcpulse is installed as a Debian package: apt-get remove tcpulse (apt-get purge tcpulse" \
        "also removes /etc/tcpulse and the state)" >&2
    exit 1
fi

if [[ -z $dest && -d /run/systemd/system ]]; then
    if systemctl is-active --quiet tcpulse.service; then
        systemctl stop tcpulse.service
        say "stopped    tcpulse.service"
    fi
    if systemctl is-enabled --quiet tcpulse.service 2>/dev/null; then
        systemctl disable --quiet tcpulse.service
        say "disabled   tcpulse.service"
    fi
elif [[ -z $dest ]]; then
    say "systemd is not running here: nothing to stop or disable"
fi

remove() {
    local path=$dest$1
    if [[ -e $path || -L $path ]]; then
        rm -rf -- "$path"
        say "removed    $1"
    fi
}

remove /etc/systemd/system/tcpulse.service
remove /usr/bin/tcpulse
remove /usr/lib/tcpulse
remove /usr/share/doc/tcpulse

config=$dest/etc/tcpulse/tcpulse.yml
if ((purge)); then
    remove /etc/tcpulse
    # DynamicUser keeps the real directory under /var/lib/private
    remove /var/lib/tcpulse
    remove /var/lib/private/tcpulse
elif [[ -f $config ]] && cmp -s "$config" "$repo/examples/tcpulse.yml"; then
    remove /etc/tcpulse/tcpulse.yml
    rmdir "$dest/etc/tcpulse" 2>/dev/null && say "removed    /etc/tcpulse" || true
else
    [[ -d $dest/etc/tcpulse ]] && say "kept       /etc/tcpulse (changed by you; --purge removes it)"
fi
if ((!purge)) && [[ -e $dest/var/lib/tcpulse || -e $dest/var/lib/private/tcpulse ]]; then
    say "kept       /var/lib/tcpulse (alert outbox and history; --purge removes it)"
fi

if [[ -z $dest && -d /run/systemd/system ]]; then
    systemctl daemon-reload
    say "systemctl daemon-reload"
fi
