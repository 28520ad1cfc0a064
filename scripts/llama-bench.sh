#!/usr/bin/env bash
# llama.cpp's own batched benchmark (llama-batched-bench) built on the very
# llama.cpp library source that llama-cpp-sys-2 vendors for econ-host (the
# version in Cargo.lock), with the CPU features econ-host's build gives it, so
# `cargo bench --bench engine` can set our engine beside it on the same GGUF.
# Not part of CI.
#
#   scripts/llama-bench.sh build            build it (~5 min on 2 cores)
#   scripts/llama-bench.sh path             print the folder it is in
#
# The crate ships llama.cpp without its tools' sources: they come from
# $LLAMA_TOOLS_SRC (a folder with tools/batched-bench/, e.g. a llama.cpp
# checkout at the matching release), else from GitHub at $LLAMA_CPP_REF
# (default master). The tool lands in $CARGO_TARGET_DIR/llama-bench/build/bin
# (default ~/.cache/econ-host/target/llama-bench/build/bin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/econ-host/target}"
OUT="$CARGO_TARGET_DIR/llama-bench"

version="$(awk '/^name = "llama-cpp-sys-2"/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock")"
[ -n "$version" ] || { echo "llama-cpp-sys-2 is not in Cargo.lock" >&2; exit 1; }
src=""
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"llama-cpp-sys-2-$version"/llama.cpp; do
    [ -d "$d" ] && src="$d"
done
if [ -z "$src" ]; then
    (cd "$ROOT" && cargo fetch --locked >/dev/null)
    for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"llama-cpp-sys-2-$version"/llama.cpp; do
        [ -d "$d" ] && src="$d"
    done
fi
[ -n "$src" ] || { echo "the llama.cpp source of llama-cpp-sys-2 $version was not found" >&2; exit 1; }

case "${1:-build}" in
    path)
        echo "$OUT/build/bin"
        ;;
    build)
        echo "==> llama.cpp from llama-cpp-sys-2 $version ($src)" >&2
        tree="$OUT/src"
        rm -rf "$tree" "$OUT/build" && mkdir -p "$OUT" && cp -r "$src" "$tree"
        tool="$tree/tools/batched-bench"
        if [ -n "${LLAMA_TOOLS_SRC:-}" ]; then
            cp "$LLAMA_TOOLS_SRC/tools/batched-bench/batched-bench.cpp" "$tool/"
        else
            curl -fsSL -o "$tool/batched-bench.cpp" \
                "https://raw.githubusercontent.com/ggml-org/llama.cpp/${LLAMA_CPP_REF:-master}/tools/batched-bench/batched-bench.cpp"
        fi
        cat > "$tool/CMakeLists.txt" <<'CMAKE'
set(TARGET llama-batched-bench)
add_executable(${TARGET} batched-bench.cpp)
target_link_libraries(${TARGET} PRIVATE llama-common llama ${CMAKE_THREAD_LIBS_INIT})
target_compile_features(${TARGET} PRIVATE cxx_std_17)
CMAKE
        echo 'add_subdirectory(batched-bench)' > "$tree/tools/CMakeLists.txt"
        # The CPU flags econ-host's build gets: llama-cpp-sys-2 turns GGML_NATIVE
        # off, so ggml's portable x86-64 set applies (SSE4.2, AVX, AVX2, FMA, F16C,
        # BMI2; no AVX-512). ECON_NATIVE=1 builds for this very CPU instead.
        native=OFF
        [ "${ECON_NATIVE:-0}" = 1 ] && native=ON
        cmake -S "$tree" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="$native" \
            -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DBUILD_SHARED_LIBS=OFF \
            >/dev/null
        cmake --build "$OUT/build" --target llama-batched-bench -j "$(nproc)"
        ls -l "$OUT/build/bin/llama-batched-bench" >&2
        ;;
    *)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
