#!/usr/bin/env bash
# Sets up everything blindspot needs on a fresh machine (Rust and Python 3 with pip present):
# a Python virtual environment in .venv with PyPI's torch==2.11.0 (its libtorch is what burn-tch
# links against), `tensorboard` (the tests read event files back with it), numpy, scipy and safetensors (the
# PyTorch reference scripts in benches/ and tests/), torchattacks, the link .libtorch -> that torch, which
# .cargo/config.toml and build.rs point cargo at, and Slurm with munge for the sweep test.
# Idempotent: a second run checks and returns in a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch, tensorboard, numpy, scipy, safetensors; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION, tensorboard, numpy, scipy and safetensors into .venv (about 4.6 GB, a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" tensorboard numpy scipy safetensors
fi
# torchattacks (the independent evaluator tests/pytorch.rs compares `blindspot robustness` with), pinned
# and without its dependencies: with them pip would replace torch and break the link to libtorch.
TORCHATTACKS_VERSION=3.5.1
if ! .venv/bin/python -c "import torchattacks; assert torchattacks.__version__ == '$TORCHATTACKS_VERSION'" 2>/dev/null; then
  echo "setup: installing torchattacks==$TORCHATTACKS_VERSION (--no-deps) into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "torchattacks==$TORCHATTACKS_VERSION"
fi
torch_dir=$(.venv/bin/python -c "import os, torch; print(os.path.dirname(torch.__file__))")
ln -sfn "$torch_dir" .libtorch
test -f .libtorch/lib/libtorch_cpu.so || { echo "setup: no libtorch_cpu.so under $torch_dir/lib" >&2; exit 1; }
echo "setup: libtorch at $torch_dir" >&2
# Fashion-MNIST (Debian's dataset-fashion-mnist) for examples/own_model.rs; where it cannot be
# installed (no root, no apt) the example and its test read MNIST instead.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    && echo "setup: installed Fashion-MNIST" >&2 \
    || echo "setup: Fashion-MNIST not installed (examples fall back to MNIST)" >&2
fi
# Slurm and munge (Debian's slurm-wlm) for tests/sweep.rs, which starts a one-node cluster with
# scripts/slurm-cluster.sh and runs a sweep as a job array on it.
if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
      && echo "setup: installed Slurm (slurm-wlm) and munge" >&2 \
      || echo "setup: Slurm could not be installed (tests/sweep.rs needs it)" >&2
  else
    echo "setup: no Slurm (tests/sweep.rs needs slurm-wlm and munge; apt-get install as root)" >&2
  fi
fi
