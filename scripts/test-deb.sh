#!/usr/bin/env bash
# The Debian package's CI test (root; run by scripts/test.sh after the build): builds
# target/tcpulse_VERSION_amd64.deb, runs lintian (errors fail, warnings are printed), installs
# it into this machine with apt-get (its Depends only), checks the files, the conffile, the
# unit and the CLI, upgrades it over a changed config (kept), removes it (config kept,
# service gone) and purges it (config and state gone). Refuses to run where tcpulse is
# already installed, as a package or by scripts/install.sh: it would replace that install.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[[ $(id -u) -eq 0 ]] || { echo "test-deb: run as root (it installs the package into this machine)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q installed || [[ -e /usr/lib/tcpulse || -e /etc/tcpulse ]]; then
    echo "test-deb: tcpulse is installed here already (package or scripts/install.sh): not touching it" >&2
    exit 1
fi

fail() { echo -e "test-deb: FAIL: $*" >&2; exit 1; }
step() { printf 'test-deb: %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive
# not under /tmp: the systemd round below mounts its own /tmp
out=$(mktemp -d /var/cache/tcpulse-test-deb.XXXXXX)
boot_pid= sd=
cleanup() {
    # SIGKILL to the namespace's PID 1 (its systemd) ends everything inside it
    [[ -n $sd ]] && kill -KILL "$sd" 2>/dev/null || true
    if [[ -n $boot_pid ]]; then
        kill -KILL "$boot_pid" 2>/dev/null || true
        wait "$boot_pid" 2>/dev/null || true
    fi
    if dpkg-query -W -f='${Status}' tcpulse 2>/dev/null | grep -q "ok"; then dpkg --purge tcpulse >/dev/null 2>&1 || true; fi
    local d
    for d in /var/lib/tcpulse /var/lib/private/tcpulse; do # what an agent run as root left (tests): put back
        if [[ -e $out/saved${d//\//_} || -L $out/saved${d//\//_} ]]; then rm -rf "$d"; mv "$out/saved${d//\//_}" "$d"; fi
    done
    rm -rf "$out"
}
trap cleanup EXIT
# an agent run as root without --state-dir (a test, a try) may have left state where the
# package's purge removes it: set aside, put back at the end
for d in /var/lib/tcpulse /var/lib/private/tcpulse; do
    if [[ -e $d || -L $d ]]; then mv "$d" "$out/saved${d//\//_}"; fi
done

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
# Where systemd is not PID 1 (containers, this CI), the maintainer scripts are checked under
# a systemd of the test's own: PID, mount, network and UTS namespaces (the harness of
# SystemdServiceKernelTest), with private /run, /tmp, /var/log, /etc/systemd/system and
# /var/lib (but dpkg's database), and a policy-rc.d that lets services start (a
# container's forbids it).
if [[ ! -d /run/systemd/system && -x /lib/systemd/systemd ]]; then
    step "under systemd (in namespaces of its own): install enables and starts, remove stops, purge cleans"
    printf '#!/bin/sh\nexit 0\n' >"$out/policy-rc.d"; chmod 0755 "$out/policy-rc.d"
    cat >"$out/boot.sh" <<BOOT
#!/bin/sh
set -e
mount --make-rprivate /
mkdir -p $out/host-var-lib
mount --bind /var/lib $out/host-var-lib
for d in /tmp /var/tmp /var/log /run /etc/systemd/system /var/lib; do mount -t tmpfs -o mode=0755 tmpfs \$d; done
chmod 1777 /tmp /var/tmp
# dpkg's database stays the host's: the package really is installed, then purged
mkdir /var/lib/dpkg
mount --bind $out/host-var-lib/dpkg /var/lib/dpkg
[ -e /usr/sbin/policy-rc.d ] && mount --bind $out/policy-rc.d /usr/sbin/policy-rc.d
ip link set lo up
cd /etc/systemd/system
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \\
         systemd-tmpfiles-setup-dev-early.service systemd-tmpfiles-clean.timer; do ln -s /dev/null \$u; done
# the harness only: no sysinit.target for the service; the unit itself is as shipped
mkdir tcpulse.service.d
printf '[Unit]\\nDefaultDependencies=no\\n' > tcpulse.service.d/test.conf
printf '[Unit]\\nDescription=tcpulse package test\\nDefaultDependencies=no\\n' > tcpulse-test.target
exec env container=tcpulse-test /lib/systemd/systemd --system --unit=tcpulse-test.target --log-target=console
BOOT
    chmod 0755 "$out/boot.sh"
    unshare --fork --pid --mount --uts --net --mount-proc "$out/boot.sh" >"$out/systemd.log" 2>&1 &
    boot_pid=$!
    for _ in $(seq 100); do
        sd=$(pgrep -P "$boot_pid" -x systemd || true)
        [[ -n $sd ]] && nsenter -t "$sd" -m -p systemctl is-system-running >/dev/null 2>&1 && break
        [[ -n $sd ]] && [[ $(nsenter -t "$sd" -m -p systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]] && break
        sleep 0.3
    done
    [[ -n $sd ]] || fail "systemd did not start:\n$(cat "$out/systemd.log")"
    inside() { nsenter -t "$sd" -m -p -n -u "$@"; }
    inside dpkg -i "$deb" </dev/null >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "dpkg -i under systemd"; }
    [[ $(inside systemctl is-enabled tcpulse.service 2>&1) == enabled ]] || fail "not enabled by the package: $(inside systemctl is-enabled tcpulse.service 2>&1)"
    for _ in $(seq 150); do
        inside curl -sf -o /dev/null http://127.0.0.1:9470/api/v1/health && break
        sleep 0.4
    done
    [[ $(inside systemctl is-active tcpulse.service) == active ]] \
        || fail "not started by the package:\n$(inside systemctl status tcpulse.service --no-pager 2>&1)\n$(inside journalctl -u tcpulse --no-pager 2>&1 | tail -20)"
    inside curl -sf http://127.0.0.1:9470/api/v1/health >/dev/null || fail "the started service does not answer /api/v1/health"
    step "  installed: enabled, active, answering on 127.0.0.1:9470 (DynamicUser $(inside systemctl show tcpulse.service -p User --value))"
    inside dpkg -r tcpulse </dev/null >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "dpkg -r under systemd"; }
    state=$(inside systemctl is-active tcpulse.service 2>&1 || true)
    [[ $state == inactive || $state == unknown ]] || fail "still $state after remove"
    inside dpkg -P tcpulse </dev/null >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; fail "dpkg -P under systemd"; }
    [[ ! -e /etc/tcpulse && ! -e /usr/lib/tcpulse ]] || fail "purge under systemd left files"
    step "  removed: stopped; purged: config gone"
fi

step "ok: $(basename "$deb") builds, passes lintian without errors, installs, upgrades, removes and purges cleanly"
