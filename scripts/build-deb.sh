#!/usr/bin/env bash
# Builds the Debian package from the built jar: target/tcpulse_VERSION_amd64.deb.
#
#   mvn -DskipTests package && scripts/build-deb.sh [--out DIR]
#
# It installs (see docs/operations.md, "The Debian package"):
#   /usr/lib/tcpulse/tcpulse.jar                 the agent, its native library inside
#   /usr/bin/tcpulse                             the CLI (tcpulse run|check|version|...)
#   /lib/systemd/system/tcpulse.service          the hardened unit
#   /etc/tcpulse/tcpulse.yml                     example config (a conffile: upgrades keep your changes)
#   /usr/share/doc/tcpulse/                      README, operations, alerts, dashboard, design, examples/
#   /usr/share/man/man1/tcpulse.1.gz             the CLI's help as a manual page
#   /usr/share/lintian/overrides/tcpulse         why a lintian tag does not apply
# Depends: a Java >= 17 runtime, libelf1, zlib1g: nothing that builds or tests it.
# Environment: JAR (default agent/target/tcpulse.jar), VERSION (default the pom's, with
# -SNAPSHOT as ~SNAPSHOT so that a release sorts after its snapshots).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/target
while (($#)); do
    case $1 in
        --out) out=$2; shift ;;
        --out=*) out=${1#--out=} ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
jar=${JAR:-agent/target/tcpulse.jar}
[[ -f $jar ]] || { echo "build-deb.sh: $jar is missing: run mvn -DskipTests package first" >&2; exit 1; }
pom_version=$(sed -n '0,/<version>/s|.*<version>\(.*\)</version>.*|\1|p' pom.xml)
version=${VERSION:-${pom_version/-SNAPSHOT/~SNAPSHOT}}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
umask 022
install -D -m 0644 "$jar" "$root/usr/lib/tcpulse/tcpulse.jar"
install -d "$root/usr/bin"
cat >"$root/usr/bin/tcpulse" <<'WRAPPER'
#!/bin/sh
# tcpulse's command line: the agent's jar (tcpulse --help)
exec java -XX:TieredStopAtLevel=1 -jar /usr/lib/tcpulse/tcpulse.jar "$@"
WRAPPER
chmod 0755 "$root/usr/bin/tcpulse"
install -D -m 0644 systemd/tcpulse.service "$root/lib/systemd/system/tcpulse.service"
install -D -m 0644 examples/tcpulse.yml "$root/etc/tcpulse/tcpulse.yml"
doc=$root/usr/share/doc/tcpulse
install -D -m 0644 README.md "$doc/README.md"
for f in operations alerts dashboard design; do install -m 0644 "docs/$f.md" "$doc/$f.md"; done
install -D -m 0644 examples/tcpulse.yml "$doc/examples/tcpulse.yml"
install -D -m 0644 examples/tcpulse.json "$doc/examples/tcpulse.json"
(cd examples && find prometheus grafana -type f) | while read -r f; do install -D -m 0644 "examples/$f" "$doc/examples/$f"; done
install -m 0644 packaging/debian/copyright "$doc/copyright"
# a native package's changelog: one entry for this version
date_r=$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
printf 'tcpulse (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- tcpulse developers <tcpulse@localhost.invalid>  %s\n' \
    "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo a source tree)" "$date_r" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
# the manual page: the CLI's own generated help
man=$root/usr/share/man/man1
install -d "$man"
{
    printf '.TH TCPULSE 1 "%s" "tcpulse %s" "User Commands"\n' "$(date -u -d "$date_r" +%Y-%m-%d)" "$version"
    printf '.SH NAME\ntcpulse \\- TCP kernel-state monitor (eBPF) that names the culprit\n'
    printf '.SH SYNOPSIS\n.B tcpulse\n[\\fICOMMAND\\fR] [\\fIOPTIONS\\fR]\n.SH DESCRIPTION\n.nf\n'
    for cmd in "" "help run" "help check" "help bench-pipeline"; do
        # shellcheck disable=SC2086
        java -jar "$jar" ${cmd:---help} | sed 's/\\/\\e/g; s/^\./\\\&./'
        printf '\n'
    done
    printf '.fi\n.SH FILES\n/etc/tcpulse/tcpulse.yml, /lib/systemd/system/tcpulse.service, /usr/share/doc/tcpulse/\n'
} | gzip -9n >"$man/tcpulse.1.gz"
chmod 0644 "$man/tcpulse.1.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/tcpulse"

install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" packaging/debian/control.in >"$root/DEBIAN/control"
echo /etc/tcpulse/tcpulse.yml >"$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$root/DEBIAN/$s"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

mkdir -p "$out"
deb=$out/tcpulse_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
