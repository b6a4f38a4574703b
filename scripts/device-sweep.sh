#!/usr/bin/env bash
# Second device call: (A) GPU trainer throughput with the attackers on the host CPU
# (adversarial.attacker_device = "cpu") against clean training and GPU attackers; (B) a sweep of
# input-pool settings on the device's 16 CPU cores, 3 seeds each, runs returned for `compare` here:
#   tar xzf results.tgz && blindspot compare recipes/fc100-100-10-adversarial.toml --output sweep/NAME --set ...
# Usage (on the device): bash scripts/device-sweep.sh [DEVICE] [SWEEP_SECONDS] [EPOCHS_OVERRIDE]
set -u
DEVICE=${1:-cuda}
SWEEP_SECONDS=${2:-300}
EPOCHS=${3:-}
OUT=${OUT:-/tmp/out}
L=$PWD/sweep/log
rm -rf sweep; mkdir -p "$OUT" "$L"
source scripts/device-env.sh

stamp "A: throughput"
tp() { local name=$1 recipe=$2; shift 2; throughput "$name" "$recipe" sweep/throughput 45 "$@"; }
EP=${EPOCHS:-2}
ADV="--set train.epochs=$EP --set adversarial.warmup_epochs=0"
tp clean recipes/fc100-100-10-weight-decay.toml --set train.epochs=$EP
tp pgd-gpu-a1 recipes/fc100-100-10-adversarial.toml $ADV
tp pgd-cpu-a1 recipes/fc100-100-10-adversarial.toml $ADV --set 'adversarial.attacker_device="cpu"'
tp pgd-cpu-a2 recipes/fc100-100-10-adversarial.toml $ADV --set 'adversarial.attacker_device="cpu"' --set adversarial.attackers=2
tp convnet-clean recipes/convnet.toml --set train.epochs=1
tp convnet-pgd-cpu-a4 recipes/convnet-adversarial.toml --set train.epochs=1 --set adversarial.warmup_epochs=0 \
    --set 'adversarial.attacker_device="cpu"' --set adversarial.attackers=4

stamp "B: sweep"
experiment() { # name [--set ...]: seeds 1-3 of recipes/fc100-100-10-adversarial.toml side by side on the CPU
    local name=$1; shift
    echo "$*" >"$L/$name.sets"
    for s in 1 2 3; do
        OMP_NUM_THREADS=1 timeout "$SWEEP_SECONDS" $B train recipes/fc100-100-10-adversarial.toml --device cpu \
            --set seed=$s --set "name=\"fc100-100-10-adversarial-seed$s\"" --set "output.dir=\"sweep/$name\"" \
            --set output.tensorboard=false --set output.checkpoint_every=1000 "$@" \
            $([ -n "$EPOCHS" ] && echo "--set train.epochs=$EPOCHS") --json >"$L/$name-seed$s.json" 2>"$L/$name-seed$s.err" &
    done
    wait
    stamp "experiment $name: done"
}
experiment e100 --set train.epochs=100 &
experiment r50-e100 --set train.epochs=100 --set adversarial.ratio=0.5 &
experiment layers-eps05 --set 'adversarial.layers=[0,1,2]' --set 'adversarial.epsilon=[0.1,0.05,0.05]' &
experiment r15-e120 --set train.epochs=120 --set adversarial.ratio=0.15 &
wait
stamp "done"
tar czf "$OUT/results.tgz" --exclude="sweep/throughput/*/epoch-*" sweep
ls -la "$OUT"
