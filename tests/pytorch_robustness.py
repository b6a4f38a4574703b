"""Robust accuracy of weights that `blindspot export` wrote, measured by torchattacks 3.5.1 on the
first N MNIST test images at L∞ radius EPS, as JSON: its standard AutoAttack, and the white-box part
blindspot's ensemble runs (APGD-CE, then APGD-T on what it left).

  pytorch_robustness.py ARCH FILE.safetensors N EPS"""
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
started = time.time()
report["apgd"] = accuracy(ensemble())
report["apgd_seconds"] = time.time() - started
started = time.time()
report["autoattack"] = accuracy(torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0)(x, y))
report["autoattack_seconds"] = time.time() - started
print(json.dumps(report))
