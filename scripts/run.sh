#!/usr/bin/env bash
# Runs the omnify CLI from source, e.g. `./scripts/run.sh serve`: builds it (dev profile) in
# the same folder the test script uses, so the project is compiled once for both.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/omnify-target}"
exec cargo run --locked -- "$@"
