#!/usr/bin/env bash
# The Debian package's CI test (root; run by scripts/test.sh after the build): builds
# target/tcpulse_VERSION_amd64.deb, runs lintian (errors fail, warnings are printed), installs
# it into this machine with apt-get (its Depends only), checks the files, the conffile, the
# unit and the CLI, upgrades it over a changed config (kept), removes it (config kept,
# service gone) and purges it (config and state gone). Refuses to run where tcpulse is
# already installed, as a package or by scripts/install.sh: it would replace that install.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test-deb: run as root (it installs the package into this machine)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q installed || [[ -e /usr/lib/tcpulse || -e /etc/tcpulse || -e /var/lib/tcpulse ]]; then
    echo "test-deb: tcpulse is installed here already (package or scripts/install.sh): not touching it" >&2
    exit 1
fi

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { printf 'test-deb: %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive
out=$(mktemp -d)
cleanup() {
    if dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q "ok"; then dpkg --purge tcpulse >/dev/null 2>&1 || true; fi
    rm -rf "$out"
}
trap cleanup EXIT

deb=$(scripts/build-deb.sh --out "$out")
version=$(dpkg-deb -f "$deb" Version)
step "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

# Depends: run-time only
depends=$(dpkg-deb -f "$deb" Depends)
for bad in maven clang llvm jdk gcc make chromium prometheus lintian qemu; do
    [[ $depends != *"$bad"* ]] || fail "Depends names a build or test tool ($bad): $depends"
done

step "lintian"
lint=$(lintian --pedantic "$deb" 2>&1 | grep -v "running with root privileges" || true)
[[ -n $lint ]] && printf '%s\n' "$lint" | sed 's/^/  /'
if grep -q '^E:' <<<"$lint"; then fail "lintian reports errors"; fi

step "install"
apt-get install -y -qq --no-install-recommends "$deb" >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "apt-get install"; }
[[ $(dpkg-query -W -f='${Status} ${Version}' tcpulse) == "install ok installed $version" ]] || fail "not installed"
for f in /usr/lib/tcpulse/tcpulse.jar /usr/bin/tcpulse /lib/systemd/system/tcpulse.service /etc/tcpulse/tcpulse.yml \
         /usr/share/doc/tcpulse/README.md /usr/share/doc/tcpulse/operations.md /usr/share/doc/tcpulse/alerts.md \
         /usr/share/doc/tcpulse/copyright /usr/share/doc/tcpulse/changelog.gz /usr/share/man/man1/tcpulse.1.gz \
         /usr/share/doc/tcpulse/examples/prometheus/tcpulse-rules.yml; do
    [[ -f $f ]] || fail "$f is missing"
done
dpkg -L tcpulse | while read -r f; do [[ -e $f ]] || fail "dpkg -L lists $f, which is missing"; done
[[ $(unzip -l /usr/lib/tcpulse/tcpulse.jar) == *linux-x86-64/libtcpulse.so* ]] || fail "the native library is not in the jar"
[[ $(dpkg-query -W -f='${Conffiles}' tcpulse) == *"/etc/tcpulse/tcpulse.yml"* ]] || fail "tcpulse.yml is not a conffile"
[[ $(tcpulse version) == "tcpulse ${version/\~/-}" ]] || fail "tcpulse version says '$(tcpulse version)', the package is $version"
check=$(tcpulse check --config /etc/tcpulse/tcpulse.yml || true)
grep -q '^PASS  config *valid (/etc/tcpulse/tcpulse.yml)' <<<"$check" || fail "tcpulse check on the shipped config:\n$check"
step "the shipped unit: systemd-analyze verify"
verify=$(systemd-analyze verify /lib/systemd/system/tcpulse.service 2>&1 || true)
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
grep -q '^ExecStart=.*--config /etc/tcpulse/tcpulse.yml' /lib/systemd/system/tcpulse.service || fail "ExecStart does not read the conffile"
if [[ -d /run/systemd/system ]]; then
    systemctl is-enabled --quiet tcpulse.service || fail "tcpulse.service not enabled after install"
    systemctl is-active --quiet tcpulse.service || fail "tcpulse.service not started after install"
    step "enabled and started by the package"
else
    step "systemd is not running here: the maintainer scripts left the service alone (checked: no error)"
fi

step "upgrade over a changed config"
printf '# changed by test-deb\n' >>/etc/tcpulse/tcpulse.yml
deb2=$(VERSION="$version.1" scripts/build-deb.sh --out "$out")
dpkg -i "$deb2" </dev/null >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "dpkg -i (upgrade)"; }
[[ $(dpkg-query -W -f='${Version}' tcpulse) == "$version.1" ]] || fail "not upgraded"
grep -q '^# changed by test-deb$' /etc/tcpulse/tcpulse.yml || fail "the upgrade lost the changed config"
[[ ! -e /etc/tcpulse/tcpulse.yml.dpkg-new && ! -e /etc/tcpulse/tcpulse.yml.dpkg-old ]] || fail "the upgrade left .dpkg-new/.dpkg-old"

step "remove: program and unit gone, config kept"
mkdir -p /var/lib/tcpulse && echo '[]' >/var/lib/tcpulse/alerts.json # what the service's state would be
apt-get remove -y -qq tcpulse >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "apt-get remove"; }
for f in /usr/lib/tcpulse/tcpulse.jar /usr/bin/tcpulse /lib/systemd/system/tcpulse.service; do
    [[ ! -e $f ]] || fail "$f is still there after remove"
done
[[ -f /etc/tcpulse/tcpulse.yml ]] || fail "remove deleted the config"
[[ $(dpkg-query -W -f='${Status}' tcpulse) == "deinstall ok config-files" ]] || fail "status after remove: $(dpkg-query -W -f='${Status}' tcpulse)"

step "purge: config and state gone"
apt-get purge -y -qq tcpulse >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "apt-get purge"; }
[[ ! -e /etc/tcpulse && ! -e /var/lib/tcpulse ]] || fail "purge left /etc/tcpulse or /var/lib/tcpulse"
! dpkg-query -W tcpulse >/dev/null 2>&1 || [[ -z $(dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -v not-installed) ]] \
    || fail "dpkg still knows tcpulse"
step "ok: $(basename "$deb") builds, passes lintian without errors, installs, upgrades, removes and purges cleanly"
