#!/usr/bin/env bash
# Property-based tests of the HTTP API from its own OpenAPI document, with schemathesis (from
# PyPI, in a virtualenv this script makes): generated requests over every route, with an admin
# key and without one, against a real `omnify serve` on 127.0.0.1 (empty warehouse, the
# cold-start prior serving). Checks every answer: no 5xx, only documented status codes and
# content types, bodies and headers that match the document.
#
#   scripts/contract.sh [EXAMPLES]     # examples per operation (default 25)
#
# Needs the debug binary ($CARGO_TARGET_DIR/debug/omnify, built by cargo test or cargo build).
# Not checked yet (see docs/benchmarks.md "API contract"): that every schema-valid request is
# accepted and every schema-invalid one refused; some rules (a history's days distinct and
# within a span, dates within the accepted range, entity ids the model knows) are not expressible in the
# document, and the job `config` overrides are described as a free object.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
target="${CARGO_TARGET_DIR:-$HOME/omnify-target}"
bin="$target/debug/omnify"
if [ ! -x "$bin" ]; then
  echo "contract: $bin not found; run cargo build first" >&2
  exit 1
fi
venv="$(dirname "$(./scripts/python-env.sh)")/.."

dir="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
run() {
  OMNIFY_STATE="$dir/state.sqlite" RUST_LOG=error "$bin" --warehouse "$dir/wh" \
    --models-dir "$dir/models" --data-dir "$dir" "$@"
}
key="$(run keys create --tenant acme --role admin)"
run serve --no-bootstrap --addr 127.0.0.1:0 >"$dir/serve.out" 2>"$dir/serve.err" &
pid=$!
base=""
for _ in $(seq 1 300); do
  if grep -q "^OmniFy is ready" "$dir/serve.out" 2>/dev/null; then
    base="$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1)"
    break
  fi
  sleep 0.2
done
if [ -z "$base" ]; then
  echo "contract: the server did not start" >&2
  cat "$dir/serve.err" >&2
  exit 1
fi
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
common=(run "$base/openapi.json" --checks "$checks" -n "$examples" --workers 1 --seed 1
  --exclude-deprecated --request-timeout 60)
echo "contract: with an admin key ($examples examples per operation)"
"$venv/bin/schemathesis" "${common[@]}" -H "Authorization: Bearer $key"
echo "contract: without a key"
"$venv/bin/schemathesis" "${common[@]}"
