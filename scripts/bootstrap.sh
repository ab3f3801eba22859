#!/usr/bin/env bash
# Create or update the project's virtual environment (.venv) from the repository's own files.
#
# Needs only Python 3.10+ on PATH (or in $PYTHON) and access to PyPI. Versions are pinned by
# constraints.txt (regenerate with ./scripts/constraints). Re-runs are cheap: nothing is installed when
# pyproject.toml and constraints.txt did not change since the last successful run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.9"

find_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "bootstrap: Python 3.10 or newer is required (set \$PYTHON to its path)" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY="$(find_python)"
  echo "bootstrap: creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi

stamp=".venv/.qontak-bootstrap"
want="$(cat pyproject.toml constraints.txt | .venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "bootstrap: installing pinned dependencies into .venv (first run takes a minute or two)"
if ! .venv/bin/python -m uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
.venv/bin/python -m uv pip install --quiet --python .venv/bin/python -c constraints.txt -e ".[dev]"
echo "$want" > "$stamp"
echo "bootstrap: .venv ready"
