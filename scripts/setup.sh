#!/usr/bin/env bash
# Quick start: install dependencies, build Release into build/, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target mmfree
build/mmfree info --model ../shared/fixtures/tiny_a
build/mmfree generate --model ../shared/fixtures/tiny_a --prompt-ids "1 17 42" -n 16 --temperature 0
