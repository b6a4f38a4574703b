#!/usr/bin/env python3
"""Does a change keep every shipped recipe's figures? Trains each recipe in recipes/ briefly (512
images, 3 epochs, pools and bank synchronous: `attackers = 0`, one CPU thread) with two blindspot
binaries and compares the runs' metrics.json histories (training loss, training and test error)
exactly.

Usage: scripts/same-figures.py OLD_BINARY NEW_BINARY [OUTPUT_DIR]
An old binary: `git worktree add /tmp/old COMMIT`, then in /tmp/old
`LIBTORCH=$PWD/.libtorch CARGO_TARGET_DIR=$PWD/target cargo build --release --bin blindspot` run with
this checkout's paths, and copy target/release/blindspot aside before building this checkout again.
Exit status 1 when a recipe's figures differ or a run fails."""
import glob
import json
import os
import subprocess
import sys
import tempfile

SHORT = ["data.subset=512", "data.test_subset=100", "train.batch_size=64", "train.epochs=3",
         "output.tensorboard=false"]


def fitted(shown):
    """Settings that make the short run possible and reproducible for a recipe shown merged."""
    sets = []
    if "[certified]" in shown:
        sets += ["certified.warmup_epochs=0", "certified.ramp_epochs=2"]
    if "[adversarial]" in shown:
        sets += ["adversarial.attackers=0"]
    if "[bank]" in shown:
        sets += ["bank.attackers=0", "bank.ramp_epochs=2"]
    return sets


def figures(binary, recipe, sets, output):
    args = [binary, "train", recipe, "--json", "--set", f'output.dir="{output}"']
    for s in sets:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["no output"])[-1]
    summary = json.loads(done.stdout)
    history = [(h["train_loss"], h["train_error"], h["test_error"]) for h in summary["history"]]
    return (history, summary["test_error"]), None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    output = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="same-figures-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    differ = 0
    for recipe in sorted(glob.glob(os.path.join(root, "recipes", "*.toml"))):
        name = os.path.basename(recipe)[:-5]
        shown = subprocess.run([new, "recipe", "show", recipe], capture_output=True, text=True).stdout
        sets = SHORT + fitted(shown)
        a, why_a = figures(old, recipe, sets, os.path.join(output, "old"))
        b, why_b = figures(new, recipe, sets, os.path.join(output, "new"))
        if a is None or b is None:
            print(f"{name}: failed (old: {why_a or 'ran'}; new: {why_b or 'ran'})", flush=True)
            differ += 1
        elif a == b:
            print(f"{name}: identical (test error {a[1]})", flush=True)
        else:
            print(f"{name}: DIFFERENT: old {a}, new {b}", flush=True)
            differ += 1
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
