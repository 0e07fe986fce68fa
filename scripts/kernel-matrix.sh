#!/usr/bin/env bash
# The kernel matrix: runs scripts/kernel-guest/scenarios.py (exact scenarios, each in a
# network namespace of its own) with the built agent jar on the host kernel and, under
# QEMU (TCG emulation, no KVM needed), on Debian's cloud kernels, one guest after another.
# Prints a report per kernel and a kernel x scenario table; exits non-zero when a core
# scenario fails (or cannot run) on any kernel.
#
#   scripts/kernel-matrix.sh [--kernels "bookworm trixie"] [--no-host] [--keep DIR]
#
# Environment (flags win):
#   KERNELS="bullseye bookworm trixie"   Debian suites to boot; "" = host only
#   HOST_RUN=1                           0: skip the run on the host kernel
#   CORE="startup transitions overflow timewait resets"  scenarios that must pass on every kernel;
#   CORE_<suite>="..."                   per-kernel override (CORE_host for the host run),
#                                        e.g. CORE_trixie="startup transitions timewait overflow resets"
#   KEEP_LOGS=DIR                        keep serial logs, agent logs and check output there
#   GUEST_TIMEOUT=360                    seconds one guest may take, boot to power-off
#   SCENARIOS="transitions,timewait"     subset of scenarios.py's (startup,transitions,overflow,timewait,resets)
#   JAR=agent/target/tcpulse.jar         the jar under test (built by `mvn package`)
#   TCPULSE_KERNEL_CACHE=/var/cache/tcpulse/kernels   kernels and initrds, reused across runs
#   KERNEL_REFRESH=1                     look for newer kernels in the suites than the cached ones
#   QEMU_CPU=qemu64                      the emulated CPU model (plain x86-64 emulates fastest)
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR   archive URIs (default: the host's apt sources)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

KERNELS=${KERNELS-bullseye bookworm trixie}
HOST_RUN=${HOST_RUN:-1}
CORE=${CORE:-startup transitions overflow timewait resets}
KEEP_LOGS=${KEEP_LOGS:-}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-360}
SCENARIOS=${SCENARIOS:-}
JAR=${JAR:-agent/target/tcpulse.jar}
CACHE=${TCPULSE_KERNEL_CACHE:-/var/cache/tcpulse/kernels}
QEMU_CPU=${QEMU_CPU:-qemu64}
# modules the initrd needs to mount a virtio root disk (ext4 is built in on some of them)
INITRD_MODULES="virtio_pci virtio_blk ext4"

while (($#)); do
    case $1 in
        --kernels) KERNELS=$2; shift ;;
        --no-host) HOST_RUN=0 ;;
        --keep) KEEP_LOGS=$2; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "kernel-matrix: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "kernel-matrix: $*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, BPF, and the initrd build)"
[[ -f $JAR ]] || die "no jar at $JAR: build it first (mvn -B -q package -DskipTests)"
JAR=$(realpath "$JAR")
# the JDK the host's java resolves to goes into the guests as it is
JAVA=$(readlink -f "$(command -v java)") || die "no java on PATH"
JAVA_HOME_DIR=${JAVA%/bin/java}
PYTHON=$(command -v python3) || die "no python3"

# ---------------------------------------------------------------- kernels
# Archive URIs from the host's own apt sources (labels Debian / Debian-Security).
mirrors() {
    [[ -z ${mirrors_done:-} ]] || return 0
    mirrors_done=1
    local targets format
    # shellcheck disable=SC2016  # apt's own placeholders
    format='$(SITE) $(LABEL)'
    targets=$(apt-get indextargets --format "$format" 2>/dev/null | sort -u || true)
    if [[ -z $targets ]]; then
        apt-get update -qq  # no lists yet: indextargets reads them
        targets=$(apt-get indextargets --format "$format" 2>/dev/null | sort -u || true)
    fi
    DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(awk '$2 == "Debian" {print $1; exit}' <<<"$targets")}
    DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(awk '$2 == "Debian-Security" {print $1; exit}' <<<"$targets")}
    [[ -n $DEBIAN_MIRROR ]] || die "no Debian archive in the host's apt sources: set DEBIAN_MIRROR"
}

# apt with a private source list, lists and cache: the host's apt state is not touched.
apt_private() {
    local dir=$1; shift
    local cmd=$1; shift
    "$cmd" -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$dir/sources" \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
        -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none \
        -o APT::Sandbox::User=root -qq "$@"
}

# Fetches suite's newest linux-image-<ver>-cloud-amd64 into $CACHE/suite (vmlinuz, initrd,
# version) unless it is there already.
fetch_kernel() {
    local suite=$1 dir=$CACHE/$1
    local recipe="modules=$INITRD_MODULES"
    if [[ -z ${KERNEL_REFRESH:-} && -s $dir/vmlinuz && -s $dir/initrd && -s $dir/version
          && "$(cat "$dir/recipe" 2>/dev/null)" == "$recipe" ]]; then
        return
    fi
    mirrors
    local apt=$dir/apt
    mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial"
    # the bookworm keyring package holds the bullseye, bookworm and trixie keys
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n' \
            "$DEBIAN_MIRROR" "$suite" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg
        [[ -z $DEBIAN_SECURITY_MIRROR ]] ||
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
                "$DEBIAN_SECURITY_MIRROR" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg
    } > "$apt/sources/kernel.sources"
    apt_private "$apt" apt-get update
    # the metapackage's candidate (newest over suite, -updates and -security) names the image
    local pkg
    pkg=$(apt_private "$apt" apt-cache show --no-all-versions linux-image-cloud-amd64 |
        sed -n 's/^Depends:.*\(linux-image-[^ ,]*-cloud-amd64\).*/\1/p' | head -1)
    [[ -n $pkg ]] || die "$suite: linux-image-cloud-amd64 does not name an image package"
    local ver=${pkg#linux-image-}
    if [[ "$(cat "$dir/version" 2>/dev/null)" == "$ver" && -s $dir/vmlinuz && -s $dir/initrd
          && "$(cat "$dir/recipe" 2>/dev/null)" == "$recipe" ]]; then
        return
    fi
    say "$suite: fetching $pkg"
    rm -rf "$dir"/tmp.*  # left by an interrupted run
    local tmp
    tmp=$(mktemp -d "$dir/tmp.XXXXXX")
    (cd "$tmp" && apt_private "$apt" apt-get download "$pkg")
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
    build_initrd "$tmp/x" "$ver" "$tmp/initrd"
    cp "$tmp/x/boot/vmlinuz-$ver" "$tmp/vmlinuz"
    mv "$tmp/vmlinuz" "$tmp/initrd" "$dir/"
    echo "$ver" > "$dir/version"
    echo "$recipe" > "$dir/recipe"
    rm -rf "$tmp"
}

# mkinitramfs only builds for /lib/modules/V with /boot/config-V: both are lent from the
# unpacked package for the run and removed afterwards; what the host had stays as it was.
added=()
remove_added() {
    local i
    for ((i = ${#added[@]} - 1; i >= 0; i--)); do
        if [[ -d ${added[i]} && ! -L ${added[i]} ]]; then
            case ${added[i]} in
                /lib/modules|/boot) rmdir "${added[i]}" 2>/dev/null || true ;;  # only if we made it
                *) rm -rf "${added[i]}" ;;
            esac
        else
            rm -f "${added[i]}"
        fi
    done
    added=()
}

build_initrd() {
    local x=$1 ver=$2 out=$3 conf
    # trixie's package ships its modules under usr/lib (merged /usr); depmod -b wants lib/
    if [[ ! -d $x/lib/modules && -d $x/usr/lib/modules ]]; then
        mkdir -p "$x/lib" && ln -s ../usr/lib/modules "$x/lib/modules"
    fi
    depmod -b "$x" "$ver"  # the package leaves modules.dep to its postinst
    conf=$(mktemp -d)
    mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
    # MODULES=list: only what mounting /dev/vda takes; gzip, which every kernel reads
    printf 'MODULES=list\nBUSYBOX=auto\nKEYMAP=n\nCOMPRESS=gzip\nDEVICE=\nNFSROOT=auto\nRUNSIZE=10%%\nFSTYPE=ext4\n' \
        > "$conf/initramfs.conf"
    echo RESUME=none > "$conf/conf.d/resume"
    tr ' ' '\n' <<<"$INITRD_MODULES" > "$conf/modules"
    [[ -e /lib/modules ]] || { mkdir /lib/modules; added+=(/lib/modules); }
    [[ -e /boot ]] || { mkdir /boot; added+=(/boot); }
    if [[ ! -e /lib/modules/$ver ]]; then
        added+=("/lib/modules/$ver")
        cp -a "$x/lib/modules/$ver" "/lib/modules/$ver"
    fi
    if [[ ! -e /boot/config-$ver ]]; then
        added+=("/boot/config-$ver")
        cp "$x/boot/config-$ver" "/boot/config-$ver"
    fi
    mkinitramfs -d "$conf" -o "$out" "$ver" 2> >(grep -v '^W: ' >&2 || true)
    remove_added
    rm -rf "$conf"
}

# ---------------------------------------------------------------- guest root file system
# One ext4 image per run with the host's user space, the JDK, the jar and the scenarios;
# every guest boots it as a snapshot (-drive snapshot=on) so it is never changed.
build_rootfs() {
    local root=$work/rootfs img=$work/root.img d
    mkdir -p "$root"/{usr/lib/jvm,etc,proc,sys,dev,tmp,run,root,var/tmp,var/lib,tcpulse}
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"  # ip netns keeps its mounts under /var/run/netns
    # hard links where /usr and the work directory share a file system: no copy at all
    lend() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/bin /usr/sbin /usr/lib/python3*; do
        [[ -e $d ]] && lend "$d" "$root$(dirname "$d")/"
    done
    mkdir -p "$root$(dirname "$JAVA_HOME_DIR")"
    lend "$JAVA_HOME_DIR" "$root$(dirname "$JAVA_HOME_DIR")/"
    # the JDK's configuration lives in /etc (jvm.cfg, security): take the directories its
    # links point into
    {
        [[ -d /etc/java-17-openjdk ]] && echo /etc/java-17-openjdk
        find "$JAVA_HOME_DIR" -type l -lname '/etc/*' -printf '%l\n' | cut -d/ -f1-3
    } | sort -u | while read -r d; do
        [[ -d $d ]] && cp -a "$d" "$root/etc/"
    done
    for d in passwd group hosts nsswitch.conf ld.so.cache ld.so.conf ld.so.conf.d iproute2; do
        [[ -e /etc/$d ]] && cp -a "/etc/$d" "$root/etc/"
    done
    # the guest has no network device; without a resolv.conf Netty looks for public DNS servers
    echo "nameserver 127.0.0.1" > "$root/etc/resolv.conf"
    cp "$JAR" "$root/tcpulse/tcpulse.jar"
    cp "$repo/scripts/kernel-guest/scenarios.py" "$root/tcpulse/"
    install -m 755 "$repo/scripts/kernel-guest/init.sh" "$root/init.sh"
    local args="--slow 5"
    [[ -z $SCENARIOS ]] || args+=" --only $SCENARIOS"
    printf 'JAVA=%q\nSCENARIO_ARGS=%q\n' "$JAVA" "$args" > "$root/tcpulse/env"
    local mb
    mb=$(du -sm "$root" | cut -f1)
    truncate -s "$((mb * 5 / 4 + 512))M" "$img"
    mke2fs -q -t ext4 -d "$root" -F "$img"
    rm -rf "$root"
}

# ---------------------------------------------------------------- runs
declare -A result kernel_of info verifiers features seconds
columns=()

# Reads one run's report (RESULT/INFO/FEATURE/VERIFIER lines) into the tables.
collect() {
    local col=$1 report=$2 tag name status rest
    while read -r tag name status rest; do
        case $tag in
            RESULT) result[$col,$name]=$status ;;
            INFO) info[$col,$name]="$status${rest:+ $rest}"
                  [[ $name != kernel ]] || kernel_of[$col]=$status ;;
            FEATURE) features[$col]+="    $name $status${rest:+ ($rest)}"$'\n' ;;
            VERIFIER) verifiers[$col]+="    $name: $status${rest:+ $rest}"$'\n' ;;
        esac
    done < <(tr -d '\r' < "$report" | grep -E '^(RESULT|INFO|FEATURE|VERIFIER) ')
}

# The scenario report's own lines, without the guest kernel's console noise.
show_report() {
    tr -d '\r' < "$1" | grep -E '^(== |  [|(.]|RESULT |INFO |FEATURE |VERIFIER |SUMMARY |TCPULSE-GUEST )' | sed 's/^/  /'
}

run_host() {
    local out=$work/host t0=$SECONDS
    mkdir -p "$out"
    columns+=(host)
    echo
    echo "=== host kernel $(uname -r)"
    local args=()
    [[ -z $SCENARIOS ]] || args+=(--only "$SCENARIOS")
    "$PYTHON" -u scripts/kernel-guest/scenarios.py run --jar "$JAR" --java "$JAVA" --out "$out" \
        "${args[@]}" > "$out/report.txt" 2>&1 || true
    seconds[host]=$((SECONDS - t0))
    show_report "$out/report.txt"
    collect host "$out/report.txt"
}

run_guest() {
    local suite=$1 out=$work/$1 t0=$SECONDS rc=0
    mkdir -p "$out"
    columns+=("$suite")
    echo
    echo "=== $suite: $(cat "$CACHE/$suite/version") under QEMU (TCG)"
    truncate -s 64M "$out/results.img"
    # -nodefaults: no VGA, NIC or option ROMs to emulate; the second disk brings the logs back
    timeout -k 10 "$GUEST_TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config -display none \
        -accel tcg,thread=multi -cpu "$QEMU_CPU" -m 3072 -smp 2 -no-reboot \
        -kernel "$CACHE/$suite/vmlinuz" -initrd "$CACHE/$suite/initrd" \
        -drive file="$work/root.img",format=raw,if=virtio,snapshot=on \
        -drive file="$out/results.img",format=raw,if=virtio \
        -serial file:"$out/serial.log" \
        -append 'root=/dev/vda rw init=/init.sh console=ttyS0 quiet panic=-1' \
        </dev/null >"$out/qemu.log" 2>&1 || rc=$?
    seconds[$suite]=$((SECONDS - t0))
    (cd "$out" && tar -xf results.img 2>/dev/null) || true
    rm -f "$out/results.img"
    [[ $rc -ne 124 ]] || echo "  guest timed out after ${GUEST_TIMEOUT}s (GUEST_TIMEOUT)"
    [[ $rc -eq 0 || $rc -eq 124 ]] || { echo "  qemu exited $rc:"; sed 's/^/    /' "$out/qemu.log"; }
    show_report "$out/serial.log"
    if ! grep -q '^SUMMARY ' "$out/serial.log"; then
        echo "  the scenarios did not finish; the console's last lines:"
        tr -d '\r' < "$out/serial.log" | tail -n 40 | sed 's/^/    /'
    fi
    collect "$suite" "$out/serial.log"
    kernel_of[$suite]=${kernel_of[$suite]:-$(cat "$CACHE/$suite/version")}
}

cleanup() {
    remove_added
    if [[ -n ${work:-} && -d $work ]]; then
        if [[ -n $KEEP_LOGS ]]; then
            mkdir -p "$KEEP_LOGS"
            rm -f "$work/root.img"
            rm -rf "$work/rootfs"
            cp -a "$work"/. "$KEEP_LOGS"/
            say "logs kept in $KEEP_LOGS"
        fi
        rm -rf "$work"
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpulse-matrix.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
read -ra suites <<<"$KERNELS"

if ((${#suites[@]})); then
    scripts/install-deps.sh test  # qemu, initramfs-tools and the rest: apt only when something is missing
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9  # one fetch at a time: kernels, initrds and /lib/modules are shared
    for s in "${suites[@]}"; do
        t0=$SECONDS
        fetch_kernel "$s"
        say "$s: $(cat "$CACHE/$s/version") ready ($((SECONDS - t0))s)"
    done
    flock -u 9
    t0=$SECONDS
    build_rootfs
    say "guest root file system built ($((SECONDS - t0))s, $(du -sm "$work/root.img" | cut -f1) MiB)"
fi

[[ $HOST_RUN == 0 ]] || run_host
for s in "${suites[@]}"; do run_guest "$s"; done

# ---------------------------------------------------------------- table and verdict
all=(startup transitions overflow timewait resets)
echo
echo "=== kernel matrix (core: a failure fails the matrix; opt: reported only)"
w=20
for c in "${columns[@]}"; do k=${kernel_of[$c]:-?}; ((${#k} < w)) || w=$((${#k} + 1)); done
cell() { printf " %-${w}s" "$1"; }
printf '%-13s' ""
for c in "${columns[@]}"; do cell "$c"; done
echo
printf '%-13s' kernel
for c in "${columns[@]}"; do cell "${kernel_of[$c]:-?}"; done
echo
for row in boot check probe; do
    printf '%-13s' "$row"
    for c in "${columns[@]}"; do cell "${info[$c,$row]:--}"; done
    echo
done
failed=()
for s in "${all[@]}"; do
    printf '%-13s' "$s"
    for c in "${columns[@]}"; do
        core_var=CORE_$c
        core=" ${!core_var:-$CORE} "
        r=${result[$c,$s]:-}
        if [[ -z $SCENARIOS || ",$SCENARIOS," == *",$s,"* ]]; then
            [[ -n $r ]] || r=MISSING
        else
            r=skipped
        fi
        if [[ $core == *" $s "* ]]; then
            mark=core
            [[ $r == PASS || $r == skipped ]] || failed+=("$c/$s")
        else
            mark=opt
        fi
        cell "$r ($mark)"
    done
    echo
done
printf '%-13s' seconds
for c in "${columns[@]}"; do cell "${seconds[$c]}"; done
echo
for c in "${columns[@]}"; do
    if [[ -n ${features[$c]:-} ]]; then
        echo "features on $c (${kernel_of[$c]:-?}):"
        printf '%s' "${features[$c]}"
    fi
    if [[ -n ${verifiers[$c]:-} ]]; then
        echo "programs the verifier refused on $c (${kernel_of[$c]:-?}):"
        printf '%s' "${verifiers[$c]}"
    fi
done
if ((${#failed[@]})); then
    echo "kernel-matrix: FAILED core scenarios: ${failed[*]}"
    exit 1
fi
echo "kernel-matrix: core scenarios exact on ${columns[*]}"
