#!/usr/bin/env bash
# llama.cpp's own tools — llama-server, llama-bench, llama-batched-bench —
# built from the llama.cpp sources that the llama-cpp-python source package
# on the package index vendors (no GitHub fetch), for the tests that run
# econ-host against a real llama-server and for the engine benchmark.
#
#   scripts/llama-server.sh build     build them once (~9 min on 2 cores)
#   scripts/llama-server.sh path      print the folder they are in
#
# The source package is read from the index's simple API — `PIP_INDEX_URL`,
# else PyPI — and its sha256 checked; the tools land in
# $ECON_HOST_HOME/llama.cpp-<version>/bin (default ~/.cache/econ-host/...).
# A second `build` only checks that they are there.
set -euo pipefail
VERSION="0.3.36"
SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
HOME_DIR="${ECON_HOST_HOME:-$HOME/.cache/econ-host}"
OUT="$HOME_DIR/llama.cpp-$VERSION"
TOOLS=(llama-server llama-bench llama-batched-bench)

say() { printf '==> %s\n' "$*" >&2; }

built() {
    for t in "${TOOLS[@]}"; do [ -x "$OUT/bin/$t" ] || return 1; done
}

fetch_source() {
    local index="${PIP_INDEX_URL:-https://pypi.org/simple}"
    local tarball="$OUT/llama_cpp_python-$VERSION.tar.gz"
    mkdir -p "$OUT"
    if [ ! -f "$tarball" ] || ! echo "$SHA256  $tarball" | sha256sum -c --status; then
        say "llama-cpp-python $VERSION source package from ${index%/}/llama-cpp-python/"
        local url
        url="$(curl -fsSL -H 'Accept: application/vnd.pypi.simple.v1+json' \
            "${index%/}/llama-cpp-python/" | python3 -c '
import json, sys
files = json.load(sys.stdin)["files"]
name = "llama_cpp_python-'"$VERSION"'.tar.gz"
print(next(f["url"] for f in files if f["filename"] == name))')"
        curl -fsSL -o "$tarball.part" "$url"
        echo "$SHA256  $tarball.part" | sha256sum -c --status || {
            echo "llama-cpp-python $VERSION: sha256 mismatch" >&2
            exit 1
        }
        mv "$tarball.part" "$tarball"
    fi
    rm -rf "$OUT/src"
    mkdir -p "$OUT/src"
    tar -xzf "$tarball" -C "$OUT/src" --strip-components=3 \
        "llama_cpp_python-$VERSION/vendor/llama.cpp"
}

build() {
    if built; then
        return
    fi
    command -v cmake >/dev/null || { echo "cmake is needed (scripts/dev setup installs it)" >&2; exit 1; }
    fetch_source
    say "building ${TOOLS[*]} (llama.cpp of llama-cpp-python $VERSION) in $OUT"
    cmake -S "$OUT/src" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=OFF \
        -DBUILD_SHARED_LIBS=OFF >/dev/null
    cmake --build "$OUT/build" -j "$(nproc)" --target "${TOOLS[@]}" >/dev/null
    mkdir -p "$OUT/bin"
    for t in "${TOOLS[@]}"; do
        install -m 755 "$OUT/build/bin/$t" "$OUT/bin/$t"
    done
    rm -rf "$OUT/build" "$OUT/src"
}

case "${1:-build}" in
    build) build; echo "$OUT/bin" ;;
    path) echo "$OUT/bin" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
