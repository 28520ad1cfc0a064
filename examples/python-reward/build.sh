#!/usr/bin/env bash
# Build reward-python.wasm (the component) from app.py with componentize-py.
#
#   examples/python-reward/build.sh [OUT.wasm]
#
# componentize-py comes from PyPI into a venv of its own
# (~/.cache/econ-host/componentize-venv, or $ECON_HOST_HOME/componentize-venv;
# ~70 MB, ~10 s the first time). The component bundles CPython: ~18 MB, ~25 s
# to build on 2 cores. Output: OUT.wasm, by default reward-python.wasm beside
# this script (where tests/scaffold.rs looks for it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HOME_DIR="${ECON_HOST_HOME:-$HOME/.cache/econ-host}"
VENV="$HOME_DIR/componentize-venv"
VERSION="0.25.1"
OUT="${1:-$HERE/reward-python.wasm}"

if [ ! -x "$VENV/bin/componentize-py" ] || [ "$("$VENV/bin/componentize-py" --version)" != "componentize-py $VERSION" ]; then
    echo "==> componentize-py $VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "componentize-py==$VERSION"
fi

# Bindings are generated into a scratch folder, never into the sources.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/app.py" "$WORK/"
echo "==> componentize-py: app.py -> $OUT" >&2
(cd "$WORK" && "$VENV/bin/componentize-py" \
    --wit-path "$ROOT/wit" --world econ:plugins/reward \
    componentize app -o "$WORK/out.wasm" >/dev/null)
mv "$WORK/out.wasm" "$OUT"
ls -l "$OUT" >&2
