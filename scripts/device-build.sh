#!/usr/bin/env bash
# Builds the release binary here and puts a stripped copy into .gpu/ (ignored), for the device
# machine's `run` to carry: that machine has PyTorch but no Rust. See scripts/device-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin blindspot --example own_model
mkdir -p .gpu
strip -o .gpu/blindspot target/release/blindspot
strip -o .gpu/own_model target/release/examples/own_model
ls -la .gpu/blindspot .gpu/own_model
