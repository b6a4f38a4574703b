"""Robust accuracy of weights that `blindspot export` wrote, measured by torchattacks 3.5.1 on the
first N MNIST test images at L∞ radius EPS, as JSON: its standard AutoAttack, and the white-box part
blindspot's ensemble runs (APGD-CE, then APGD-T on what it left). With `same`, also blindspot's whole
ensemble (APGD-CE, APGD-T, Square with 5,000 queries; AutoAttack without FAB-T), timed. With
`square-l2`, only torchattacks' Square in L2 at radius EPS (5,000 queries), timed.

  pytorch_robustness.py ARCH FILE.safetensors N EPS [same | square-l2]"""
import json
import sys
import time

import torch
import torchattacks
from safetensors.torch import load_file

from pytorch_logits import mnist_test, sequential

arch, path, n, eps = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
model = sequential(arch)
model.load_state_dict(load_file(path))
# torchattacks wants images [N, 1, 28, 28]; the dense models read them flat.
model = (model if arch == "convnet" else torch.nn.Sequential(torch.nn.Flatten(), model)).eval()
x, y = mnist_test(n, "convnet")


def accuracy(images):
    with torch.no_grad():
        return (model(images).argmax(1) == y).float().mean().item()


def ensemble():
    """APGD-CE, then APGD-T (9 targets) on the examples APGD-CE left classified right."""
    adv = torchattacks.APGD(model, norm="Linf", eps=eps, steps=100, n_restarts=1, loss="ce", seed=0)(x, y)
    with torch.no_grad():
        left = model(adv).argmax(1) == y
    if left.any():
        targeted = torchattacks.APGDT(model, norm="Linf", eps=eps, steps=100, n_restarts=1, n_classes=10, seed=0)
        adv[left] = targeted(x[left], y[left])
    return adv


report = {"clean": accuracy(x)}
if sys.argv[5:] == ["square-l2"]:
    started = time.time()
    square = torchattacks.Square(model, norm="L2", eps=eps, n_queries=5000, n_restarts=1, p_init=0.8, seed=0)
    report["square_l2"] = accuracy(square(x, y))
    report["square_l2_seconds"] = time.time() - started
    print(json.dumps(report))
    sys.exit()
started = time.time()
report["apgd"] = accuracy(ensemble())
report["apgd_seconds"] = time.time() - started
started = time.time()
report["autoattack"] = accuracy(torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0)(x, y))
report["autoattack_seconds"] = time.time() - started
if sys.argv[5:] == ["same"]:
    same = torchattacks.MultiAttack([
        torchattacks.APGD(model, norm="Linf", eps=eps, steps=100, n_restarts=1, loss="ce", seed=0),
        torchattacks.APGDT(model, norm="Linf", eps=eps, steps=100, n_restarts=1, n_classes=10, seed=0),
        torchattacks.Square(model, norm="Linf", eps=eps, n_queries=5000, n_restarts=1, p_init=0.8, seed=0),
    ])
    started = time.time()
    report["same"] = accuracy(same(x, y))
    report["same_seconds"] = time.time() - started
print(json.dumps(report))
