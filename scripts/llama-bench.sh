#!/usr/bin/env bash
# llama.cpp's own benchmarks (llama-bench, llama-batched-bench), so that
# `cargo bench --bench engine` can set econ-host's embedded engine beside
# them on the same GGUF. They are the build of scripts/llama-server.sh: the
# llama.cpp sources vendored in the llama-cpp-python source package from the
# package index (no GitHub fetch), with ggml's portable x86-64 CPU set, as
# econ-host's own llama.cpp build. Not part of CI.
#
#   scripts/llama-bench.sh build            build them (~9 min on 2 cores, once)
#   scripts/llama-bench.sh path             print the folder they are in
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-build}" in
    build|path) exec "$ROOT/scripts/llama-server.sh" "$1" ;;
    *)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
