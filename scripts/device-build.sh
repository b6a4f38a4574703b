#!/usr/bin/env bash
# Builds the release binary here and puts a stripped copy into .gpu/ (ignored), for the device
# machine's `run` to carry: that machine has PyTorch but no Rust. See scripts/device-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
mkdir -p .gpu
strip -o .gpu/blindspot target/release/blindspot
ls -la .gpu/blindspot
