#!/usr/bin/env bash
# The Python tools the tests drive OmniFy with, pinned, in one virtualenv (made on first use):
# schemathesis (the API contract run) and the `mcp` SDK (an independent MCP client).
# Prints the virtualenv's python.
#
#   py="$(scripts/python-env.sh)"
set -euo pipefail
venv="${OMNIFY_VENV:-$HOME/.cache/omnify-venv}"
want="schemathesis==4.32.5 mcp==2.3.0"
stamp="$venv/.omnify-packages"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "python-env: installing $want into $venv" >&2
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $want >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
