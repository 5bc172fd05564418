#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests.
# Installs nothing by hand-steps: everything the tests need is set up here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse one build folder outside the clone, so a second run (or a second clone) does not
# rebuild the ~500 dependencies (a clean dev build takes ~10 minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/omnify-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust 1.95 (https://rustup.rs)" >&2
  exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked
