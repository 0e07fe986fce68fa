#!/usr/bin/env bash
# One command: install dependencies, build everything, run every test (kernel
# tests included: they need root and fail, rather than skip, without it), then the
# kernel matrix: the built agent on Debian's 5.10, 6.1 and 6.12 kernels under QEMU. Between
# the two, the Debian package is built, linted, installed, upgraded and purged here
# (scripts/test-deb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
mvn -B verify "$@"
scripts/test-deb.sh
scripts/kernel-matrix.sh
