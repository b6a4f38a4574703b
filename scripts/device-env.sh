# Sourced by the device scripts: the carried binary, torch's libraries for CUDA, the data, and the
# helpers both use. Needs DEVICE and L (the log folder) set.
B=$PWD/.gpu/blindspot
if [ "$DEVICE" != cpu ]; then
    PY=$(command -v python3)
    [ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
    export LD_LIBRARY_PATH="$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib"
    nvidia-smi -L | tee "$L/gpu.txt"
fi
export BLINDSPOT_DATA_DIR=$PWD/data/mnist

stamp() { echo "[$(date +%T)] $*" | tee -a "$L/steps.txt"; }

# throughput NAME RECIPE OUTPUT_DIR SECONDS [--set ...]: a short training run for its examples/s.
throughput() {
    local name=$1 recipe=$2 dir=$3 seconds=$4; shift 4
    timeout "$seconds" $B train "$recipe" --device "$DEVICE" --set "output.dir=\"$dir\"" --set "name=\"$name\"" \
        --set output.tensorboard=false "$@" --json >"$L/$name.json" 2>"$L/$name.err"
    local rc=$?; stamp "throughput $name: rc $rc"; return $rc
}
