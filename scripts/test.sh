#!/usr/bin/env bash
# One command: install dependencies, build everything, run every test (kernel
# tests included: they need root and fail, rather than skip, without it), then the
# kernel matrix: the built agent on Debian's 5.10, 6.1 and 6.12 kernels under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
mvn -B verify "$@"
scripts/kernel-matrix.sh
