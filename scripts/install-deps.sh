#!/usr/bin/env bash
# Installs what tcpulse needs to build and test on Debian/Ubuntu; idempotent:
# packages already present are not touched and apt is not called at all then.
set -euo pipefail

packages=(
    # native build: BPF compiler, skeleton generator, libbpf rebuilt with -fPIC
    clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev make gcc pkg-config patch xz-utils
    ca-certificates
    # agent build
    openjdk-17-jdk-headless maven
    # tests: network namespaces and ss
    iproute2
    # operations tests (issue 7): systemd-analyze verify/security on the unit, setpriv for the
    # unprivileged run, openssl for a TLS pair, promtool (only Debian's prometheus ships it;
    # where systemd runs, the package also enables a Prometheus server on :9090)
    systemd util-linux openssl prometheus
    # dashboard tests: headless Chromium driven by Selenium through chromedriver
    chromium chromium-driver
    # the kernel matrix (scripts/kernel-matrix.sh): Debian's kernels booted under QEMU, an
    # initrd for their virtio disk, a root image made from this machine's files
    qemu-system-x86 initramfs-tools e2fsprogs kmod cpio debian-archive-keyring python3 tar
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the dashboard's uPlot comes from npm at build time; any Node.js with npm will do
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "tcpulse: missing packages: ${missing[*]} (run this script as root to install them)" >&2
        exit 1
    fi
    echo "tcpulse: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# BTF is what CO-RE and tp_btf programs stand on
if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
    echo "tcpulse: /sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF (>= 5.8)" >&2
    exit 1
fi
