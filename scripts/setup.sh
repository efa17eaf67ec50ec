#!/usr/bin/env bash
# Quick start: install dependencies, build Release into build/, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target mmfree
# The main job: text from the model mmfree ships (models/default.gguf, docs/MODEL.md), used when no --model is given.
build/mmfree generate --prompt "It is a truth" -n 64 --seed 1
