"""The same training as benches/train_step.rs in eager PyTorch on the same machine: FC100-100-10
(sigmoid), batch 128, SGD with Nesterov momentum, the paper's per-layer weight decay in the loss,
one epoch over MNIST's 60,000 training images held in one tensor. Prints seconds per epoch (median
of 5 after a warm-up epoch). Run: .venv/bin/python benches/pytorch_epoch.py [--no-weight-decay]"""
import gzip
import pathlib
import statistics
import sys
import time

import numpy as np
import torch

root = pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist"
raw = gzip.open(root / "train-images-idx3-ubyte.gz").read()
x = torch.tensor(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0)
y = torch.tensor(np.frombuffer(gzip.open(root / "train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8).astype(np.int64))

torch.manual_seed(1)
model = torch.nn.Sequential(
    torch.nn.Linear(784, 100), torch.nn.Sigmoid(),
    torch.nn.Linear(100, 100), torch.nn.Sigmoid(),
    torch.nn.Linear(100, 10),
)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
linears = [m for m in model if isinstance(m, torch.nn.Linear)]
weight_decay = 0.0 if "--no-weight-decay" in sys.argv else 1e-4


def epoch():
    order = torch.randperm(len(y))
    for start in range(0, len(y), 128):
        idx = order[start:start + 128]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        if weight_decay:
            loss = loss + weight_decay * sum(l.weight.pow(2).sum() / l.out_features for l in linears)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


epoch()
times = []
for _ in range(5):
    t = time.perf_counter()
    epoch()
    times.append(time.perf_counter() - t)
print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads, weight decay {weight_decay}: {statistics.median(times):.3f} s per epoch (median of 5)")
