#!/usr/bin/env bash
# One command: install dependencies, build everything, run every test (kernel
# tests included: they need root and fail, rather than skip, without it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mvn -B verify "$@"
