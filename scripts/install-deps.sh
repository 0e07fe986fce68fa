#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages tcpulse needs, by purpose; idempotent: packages
# already present are not touched and apt is not called at all then.
#
#   scripts/install-deps.sh runtime   what runs the agent: a Java 17 runtime, libelf, zlib
#                                     (what the Debian package Depends on; install.sh uses this)
#   scripts/install-deps.sh build     runtime + compilers and tools to build the jar and the
#                                     .deb (clang, bpftool, libbpf source, JDK, Maven, npm)
#   scripts/install-deps.sh test      build + what the tests drive (namespaces, systemd tools,
#                                     openssl, Debian's prometheus and prometheus-alertmanager,
#                                     chromium, lintian, QEMU for the kernel matrix); the default
#
# Never run `test` on a server: it installs a browser, Prometheus and Alertmanager. Their
# services are not started: the packages are installed under a policy-rc.d that forbids
# starting services, and where systemd runs, the units they ship are masked (the tests run
# the binaries themselves, as children on loopback ports). `systemctl unmask` undoes that.
set -euo pipefail

purpose=${1:-test}
runtime=(openjdk-17-jre-headless libelf1 zlib1g)
build=(
    # native build: BPF compiler, skeleton generator, libbpf rebuilt with -fPIC
    clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev make gcc pkg-config patch xz-utils
    ca-certificates
    # agent build; dpkg-deb (in dpkg, always there) makes the .deb
    openjdk-17-jdk-headless maven
)
test=(
    # network namespaces and ss; nft drops every nth segment for the retransmit tests
    iproute2 nftables
    # operations tests: systemd-analyze verify/security on the unit, setpriv for the
    # unprivileged run, openssl for a TLS pair, lintian for the .deb
    systemd util-linux openssl lintian unzip
    # the real Prometheus and Alertmanager the ecosystem tests run (services kept off, see above)
    prometheus prometheus-alertmanager
    # dashboard tests: headless Chromium driven by Selenium through chromedriver
    chromium chromium-driver
    # the kernel matrix (scripts/kernel-matrix.sh): Debian's kernels booted under QEMU, an
    # initrd for their virtio disk, a root image made from this machine's files
    qemu-system-x86 initramfs-tools e2fsprogs kmod cpio debian-archive-keyring python3 tar
)
# packages that ship a service the tests must not have running
services=(prometheus prometheus-alertmanager)

case $purpose in
    runtime) packages=("${runtime[@]}") ;;
    build) packages=("${runtime[@]}" "${build[@]}") ;;
    test) packages=("${runtime[@]}" "${build[@]}" "${test[@]}") ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown purpose '$purpose' (runtime, build or test)" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
# the dashboard's uPlot comes from npm at build time; any Node.js with npm will do
[[ $purpose == runtime ]] || command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "tcpulse: missing packages: ${missing[*]} (run scripts/install-deps.sh $purpose as root to install them)" >&2
        exit 1
    fi
    new_services=()
    for s in "${services[@]}"; do
        [[ " ${missing[*]} " == *" $s "* ]] && new_services+=("$s")
    done
    policy=/usr/sbin/policy-rc.d own_policy=0
    if ((${#new_services[@]})) && [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# tcpulse install-deps.sh: no service starts while test packages install\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    echo "tcpulse: installing (${purpose}) ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((own_policy)); then rm -f "$policy"; trap - EXIT; fi
    if ((${#new_services[@]})) && [[ -d /run/systemd/system ]]; then
        for s in "${new_services[@]}"; do
            systemctl disable --now "$s.service" >/dev/null 2>&1 || true
            systemctl mask "$s.service" >/dev/null 2>&1 || true
            echo "tcpulse: $s.service masked (the tests run the binary themselves)"
        done
    fi
fi

# BTF is what CO-RE and tp_btf programs stand on (the build generates vmlinux.h from it)
if [[ $purpose != runtime && ! -r /sys/kernel/btf/vmlinux ]]; then
    echo "tcpulse: /sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF (>= 5.8)" >&2
    exit 1
fi
