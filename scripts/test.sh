#!/usr/bin/env bash
# README command 2: install what the tests need, then run them all (extra args go to vitest).
# The agent suites need root (loop-mounted btrfs and XFS pools); without it they are skipped and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
vela_bootstrap btrfs-progs xfsprogs postgresql
npx vitest run "$@"
