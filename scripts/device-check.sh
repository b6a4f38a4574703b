#!/usr/bin/env bash
# The GPU checks, run on the device machine (H100/H200 with PyTorch but no Rust) in one call:
#   1. CUDA really runs, the AlexNet-shaped Lipschitz table, examples/own_model.rs (a user's residual
#      CNN through the library: `--quick` on the device), trainer throughput with pools off / on
#      with attackers on the GPU (1, 2, 4 threads) and on the host CPU (adversarial.attacker_device),
#      the renewed pool, the perturbation bank (with weight averaging) and fresh PGD-7 training at
#      ε = 0.3, the robustness ensemble on the latter, IBP training and `certify`;
#   2. full-length accuracy runs on the GPU, 3 seeds each side by side, then `compare` measures them:
#      the PGD input pool, and minimal (L-BFGS) per-layer pools made by 4 CPU attackers per run.
# Build here first:  scripts/device-build.sh  (puts the stripped binary into .gpu/, which `carry` names).
# On the device:     bash scripts/device-check.sh [DEVICE] [PHASE2_SECONDS] [EPOCHS_OVERRIDE]
# Everything lands in $OUT/results.tgz (run metrics, JSON, logs).
set -u
DEVICE=${1:-cuda}
PHASE2_SECONDS=${2:-270}
EPOCHS=${3:-}            # empty: each recipe's own epochs (a dry run passes a small number)
OUT=${OUT:-/tmp/out}
WORK=${WORK:-/tmp/device-check}
rm -rf "$WORK"; mkdir -p "$OUT" "$WORK/log" "$WORK/runs"
L=$WORK/log R=$WORK/runs
source scripts/device-env.sh
short() { [ -n "$EPOCHS" ] && echo "--set train.epochs=$EPOCHS"; }
secs() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.2f", b - a }'; }

# 1. Throughput, one run at a time on an otherwise idle machine.
stamp "phase 1"
T0=$(secs)
t=$(secs); timeout 60 $B lipschitz --arch alexnet --device "$DEVICE" --json >$L/alexnet.json 2>$L/alexnet.err
rc=$?; stamp "alexnet table: $(since $t) s, rc $rc"
t=$(secs); timeout 60 .gpu/own_model --quick --device "$DEVICE" >$L/own_model.txt 2>&1
rc=$?; stamp "own_model --quick: $(since $t) s, rc $rc"
tp() { # name recipe [--set ...]
    if awk -v t="$(since $T0)" 'BEGIN { exit !(t > 170) }'; then stamp "throughput $1: skipped (phase 1 over time)"; return 1; fi
    (sleep 8; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >$L/$1.smi 2>&1) &
    local name=$1 recipe=$2; shift 2
    throughput "$name" "$recipe" "$R/throughput" 60 "$@"
}
EP=${EPOCHS:-2}
finish() { stamp "done"; (cd "$WORK" && tar czf "$OUT/results.tgz" log $(find runs -name metrics.json)); ls -la "$OUT"; }
tp clean recipes/fc100-100-10-weight-decay.toml --set train.epochs=$EP || { finish; exit 1; }
for a in 1 2 4; do
    tp pgd-a$a recipes/fc100-100-10-adversarial.toml --set train.epochs=$EP --set adversarial.warmup_epochs=0 \
        --set adversarial.attackers=$a
    tp pgd-cpu-a$a recipes/fc100-100-10-adversarial.toml --set train.epochs=$EP --set adversarial.warmup_epochs=0 \
        --set adversarial.attackers=$a --set 'adversarial.attacker_device="cpu"'
done
tp lbfgs-layers-cpu-a8 recipes/fc100-100-10-adversarial-layers.toml --set train.epochs=$EP \
    --set adversarial.warmup_epochs=0 --set adversarial.method=\"lbfgs\" --set adversarial.attackers=8 \
    --set 'adversarial.attacker_device="cpu"'
tp convnet-clean recipes/convnet.toml --set train.epochs=1
tp convnet-pgd recipes/convnet-adversarial.toml --set train.epochs=1 --set adversarial.warmup_epochs=0
# The renewed pool at ε = 0.3 (one step on the current weights per drawn example), then fresh
# adversarial training (PGD-7 in every step) and the evaluator on its model.
tp convnet-renewed recipes/convnet-linf-0.3-pool-renewed.toml --set train.epochs=1 --set adversarial.warmup_epochs=0
# The perturbation bank (every row adversarial, one renewing step per use), with weight averaging.
tp convnet-bank recipes/convnet-linf-0.3-bank.toml --set train.epochs=2 --set bank.step_size=0.15 --set train.ema=0.999
tp convnet-bank-a2 recipes/convnet-linf-0.3-bank.toml --set train.epochs=2 --set bank.step_size=0.15 --set bank.attackers=2
tp convnet-fresh recipes/convnet-linf-0.3-fresh.toml --set train.epochs=1 --set fresh.ramp_epochs=0 &&
    { t=$(secs); timeout 120 $B robustness "$R/throughput/convnet-fresh" --epsilon 0.3 --n 1000 --device "$DEVICE" \
        --json >$L/robustness.json 2>$L/robustness.err; stamp "robustness, 1000 images: $(since $t) s, rc $?"; }
# Training for certificates (IBP's loss on ibp-small) and `certify` on its model.
tp ibp-small recipes/ibp-small-linf-0.3-certified.toml --set train.epochs=2 --set certified.warmup_epochs=0 \
    --set certified.ramp_epochs=1 &&
    { t=$(secs); timeout 60 $B certify "$R/throughput/ibp-small" --epsilon 0.1,0.3 --n 10000 --device "$DEVICE" \
        --json >$L/certify.json 2>$L/certify.err; stamp "certify, 10000 images: $(since $t) s, rc $?"; }

# Two GPUs in one step (train.devices: the batch split, gradients summed on the first), where lent.
if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
    tp convnet-fresh-2gpu recipes/convnet-linf-0.3-fresh.toml --set train.epochs=1 --set fresh.ramp_epochs=0 \
        --set 'train.devices=["cuda:0", "cuda:1"]'
fi

# 2. Accuracy: each experiment trains seeds 1-3 side by side, then `compare` measures them.
stamp "phase 2"
experiment() { # name device threads recipe [--set ...]
    local name=$1 dev=$2 threads=$3 recipe=$4; shift 4
    local base; base=$(sed -n 's/^name = "\(.*\)"/\1/p' "$recipe")
    for s in 1 2 3; do
        OMP_NUM_THREADS=$threads timeout "$PHASE2_SECONDS" $B train "$recipe" --device "$dev" --set seed=$s \
            --set "name=\"$base-seed$s\"" --set "output.dir=\"$R/$name\"" "$@" $(short) --json >$L/$name-seed$s.json 2>$L/$name-seed$s.err &
    done
    wait
    OMP_NUM_THREADS=$threads timeout 90 $B compare "$recipe" --seeds 3 --output $R/$name --device "$dev" \
        "$@" $(short) --json >$L/$name.json 2>$L/$name.err
    stamp "experiment $name: compare rc $?"
}
LBFGS="--set adversarial.method=\"lbfgs\" --set adversarial.attackers=4 --set adversarial.attacker_device=\"cpu\" --set adversarial.ratio=0.25 --set train.epochs=60"
experiment gpu-pgd-input "$DEVICE" 1 recipes/fc100-100-10-adversarial.toml &
experiment gpu-lbfgs-layers "$DEVICE" 1 recipes/fc100-100-10-adversarial-layers.toml $LBFGS &
wait
finish
