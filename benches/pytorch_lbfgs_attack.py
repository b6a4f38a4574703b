"""The paper's L-BFGS attack the two ways researchers commonly run it, on FC100-100-10 in PyTorch, for
comparison with blindspot's batched attack (benches/attack.rs, `blindspot attack`).

  (a) SciPy's L-BFGS-B one example at a time, minimising c*|r|^2 + CE(x+r, target) in [0,1], with
      the same search over c as blindspot (x10 / /10 bracket, then bisection in log space).
  (b) advertorch's LBFGSAttack way: the whole batch flattened into one SciPy L-BFGS-B problem,
      loss sum_i c_i*CE_i + |r_i|^2, 9 binary-search steps on each c_i (initial 1e-2), 100 iterations.

The model: FC100-100-10 (sigmoid) trained here for 10 epochs (SGD, Nesterov, batch 128), as the
issue's reference measurement did. Targets: a random wrong label; images: the first correctly
classified training images. Prints seconds per adversarial example, success rate and mean
distortion sqrt(mean(r^2)) for each.

Run: .venv/bin/python benches/pytorch_lbfgs_attack.py [--n-single 20] [--n-batch 100]"""
import argparse
import gzip
import pathlib
import time

import numpy as np
import scipy.optimize
import torch

p = argparse.ArgumentParser()
p.add_argument("--n-single", type=int, default=20)
p.add_argument("--n-batch", type=int, default=100)
args = p.parse_args()

root = pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist"
x_all = torch.tensor(np.frombuffer(gzip.open(root / "train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0)
y_all = torch.tensor(np.frombuffer(gzip.open(root / "train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8).astype(np.int64))

torch.manual_seed(1)
model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.Sigmoid(), torch.nn.Linear(100, 100), torch.nn.Sigmoid(), torch.nn.Linear(100, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
for epoch in range(10):
    order = torch.randperm(len(y_all))
    for s in range(0, len(y_all), 128):
        idx = order[s:s + 128]
        loss = torch.nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
model.eval()
for q in model.parameters():
    q.requires_grad_(False)

with torch.no_grad():
    right = (model(x_all[:2000]).argmax(1) == y_all[:2000]).nonzero().flatten()
rng = np.random.default_rng(1)


def pick(n):
    idx = right[:n]
    x, y = x_all[idx].double(), y_all[idx]
    t = (y + torch.tensor(rng.integers(1, 10, size=n))) % 10
    return x, y, t


model64 = model.double()


def single(x0, t, c):
    def f(z):
        z = torch.tensor(z, requires_grad=True)
        loss = c * (z - x0).pow(2).sum() + torch.nn.functional.cross_entropy(model64(z[None]), t[None])
        loss.backward()
        return loss.item(), z.grad.numpy()
    res = scipy.optimize.minimize(f, x0.numpy(), jac=True, method="L-BFGS-B", bounds=[(0, 1)] * 784, options={"maxiter": 100})
    z = torch.tensor(res.x)
    return z, model64(z[None]).argmax(1).item() == t.item()


def way_a(n):
    x, _, t = pick(n)
    dist, ok = [], 0
    start = time.perf_counter()
    for i in range(n):
        c, lo, hi, best = 1.0, None, None, None
        for _ in range(10):
            z, success = single(x[i], t[i], c)
            if success:
                d = (z - x[i]).pow(2).mean().sqrt().item()
                best = d if best is None else min(best, d)
                lo = c if lo is None else max(lo, c)
            else:
                hi = c if hi is None else min(hi, c)
            c = np.sqrt(lo * hi) if lo and hi else (lo * 10 if lo else hi / 10)
        if best is not None:
            ok += 1
            dist.append(best)
    return (time.perf_counter() - start) / n, ok / n, float(np.mean(dist))


def way_b(n):
    x, _, t = pick(n)
    const = np.full(n, 1e-2)
    lower, upper = np.zeros(n), np.full(n, 1e10)
    best = np.full(n, np.inf)
    start = time.perf_counter()
    for _ in range(9):
        c = torch.tensor(const)

        def f(flat):
            z = torch.tensor(flat.reshape(n, 784), requires_grad=True)
            ce = torch.nn.functional.cross_entropy(model64(z), t, reduction="none")
            loss = (c * ce).sum() + (z - x).pow(2).sum()
            loss.backward()
            return loss.item(), z.grad.numpy().ravel()
        res = scipy.optimize.minimize(f, x.numpy().ravel(), jac=True, method="L-BFGS-B", bounds=[(0, 1)] * (784 * n), options={"maxiter": 100})
        z = torch.tensor(res.x.reshape(n, 784))
        success = (model64(z).argmax(1) == t).numpy()
        d = (z - x).pow(2).mean(1).sqrt().numpy()
        best = np.where(success & (d < best), d, best)
        upper = np.where(success, np.minimum(upper, const), upper)
        lower = np.where(success, lower, np.maximum(lower, const))
        const = np.where(upper < 1e9, (lower + upper) / 2, const * 10)
    ok = np.isfinite(best)
    return (time.perf_counter() - start) / n, ok.mean(), float(best[ok].mean())


torch.set_num_threads(torch.get_num_threads())
for name, fn, n in [("(a) SciPy L-BFGS-B per example", way_a, args.n_single), ("(b) advertorch-style batch", way_b, args.n_batch)]:
    s, ok, d = fn(n)
    print(f"{name}: {s:.3f} s per example, success {100 * ok:.0f}%, mean distortion {d:.4f} ({n} examples)")
