#!/usr/bin/env bash
# One command: install build dependencies, build tcpulse, start the agent.
# Extra arguments go to the agent, e.g. scripts/run.sh --listen 127.0.0.1:9470
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
mvn -B -q -DskipTests package
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    echo "tcpulse: not root: the BPF probe needs root or CAP_BPF+CAP_PERFMON; trying sudo" >&2
    sudo=(sudo)
fi
exec "${sudo[@]}" java -XX:TieredStopAtLevel=1 -jar agent/target/tcpulse.jar "$@"
