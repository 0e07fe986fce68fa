#!/bin/bash
# PID 1 of a kernel-matrix guest (QEMU): mounts what the agent and the scenarios need,
# runs them with their report on the serial console, writes the logs as a tar archive
# onto the second disk (/dev/vdb) for the host, and powers off. No shutdown sequence:
# the root disk is a throw-away snapshot.
export PATH=/usr/sbin:/usr/bin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp

# the initramfs hands over /sys, /proc and /dev already mounted
mnt() { mountpoint -q "$2" || mount -t "$1" "$1" "$2" 2>/dev/null; }
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt tmpfs /tmp
mnt tmpfs /run
mnt bpf /sys/fs/bpf
mnt cgroup2 /sys/fs/cgroup
echo 1 > /proc/sys/kernel/sysrq
ip link set lo up

# written by kernel-matrix.sh when it built the image: JAVA, SCENARIO_ARGS
# shellcheck source=/dev/null
. /tcpulse/env

echo "INFO boot $(cut -d' ' -f1 /proc/uptime)s"
mkdir -p /tmp/out
# shellcheck disable=SC2086  # SCENARIO_ARGS is a word list
python3 -u /tcpulse/scenarios.py run --jar /tcpulse/tcpulse.jar --java "$JAVA" \
    --port 9470 --out /tmp/out $SCENARIO_ARGS 2>&1
echo "TCPULSE-GUEST scenarios exited $? at $(cut -d' ' -f1 /proc/uptime)s"

dmesg > /tmp/out/dmesg.txt 2>&1
tar -C /tmp -cf /dev/vdb out && sync
echo o > /proc/sysrq-trigger
sleep 60
