"""Loads weights that `blindspot export` wrote into the PyTorch nn.Sequential of the architecture
(README: "PyTorch naming") and prints its logits for the first N MNIST test images as JSON.
It can also write fresh PyTorch weights for `blindspot import`, and spoil one weight of a file
with NaN.

  pytorch_logits.py logits ARCH FILE.safetensors N
  pytorch_logits.py ibp ARCH FILE.safetensors N EPSILON   (interval bounds of the logits over the
                                                            L-inf ball, clipped to [0, 1]: [lower, upper])
  pytorch_logits.py init ARCH FILE.safetensors SEED
  pytorch_logits.py nan FILE.safetensors OUT.safetensors"""
import gzip
import json
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

nn = torch.nn


def sequential(arch):
    if arch == "convnet":
        return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10))
    hidden = {"fc10": [], "fc100-100-10": [100, 100], "fc200-200-10": [200, 200],
              "fc123-456-10": [123, 456], "ae400-10": [400]}[arch]
    layers, width = [], 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.Sigmoid()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def mnist_test(n, arch):
    """The first `n` MNIST test images (shaped for `arch`) and their labels."""
    root = pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist"
    x = np.frombuffer(gzip.open(root / "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)[: n * 784]
    y = np.frombuffer(gzip.open(root / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)[:n]
    x = torch.tensor(x.astype(np.float32) / 255.0).reshape(n, 784)
    return (x.reshape(n, 1, 28, 28) if arch == "convnet" else x), torch.tensor(y.astype(np.int64))


def interval_bounds(model, lower, upper):
    """Interval bound propagation through an nn.Sequential, written from the definition: an affine
    module maps the box's centre and its radius (through |W|, no bias); the rest are monotone."""
    for module in model:
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            centre, radius = (upper + lower) / 2, (upper - lower) / 2
            centre = module(centre)
            if isinstance(module, nn.Linear):
                radius = radius @ module.weight.abs().t()
            else:
                radius = torch.nn.functional.conv2d(radius, module.weight.abs(), None, module.stride,
                                                    module.padding, module.dilation, module.groups)
            lower, upper = centre - radius, centre + radius
        else:
            lower, upper = module(lower), module(upper)
    return lower, upper


if __name__ != "__main__":
    pass
elif sys.argv[1] == "init":
    arch, path = sys.argv[2], sys.argv[3]
    torch.manual_seed(int(sys.argv[4]))
    model = sequential(arch)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
elif sys.argv[1] == "nan":
    tensors = load_file(sys.argv[2])
    first = sorted(tensors)[0]
    tensors[first].view(-1)[0] = float("nan")
    save_file(tensors, sys.argv[3])
elif sys.argv[1] == "ibp":
    arch, path, n, epsilon = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    model = sequential(arch)
    model.load_state_dict(load_file(path))
    x, _ = mnist_test(n, arch)
    with torch.no_grad():
        lower, upper = interval_bounds(model, (x - epsilon).clamp(0, 1), (x + epsilon).clamp(0, 1))
    print(json.dumps([lower.reshape(n, -1).tolist(), upper.reshape(n, -1).tolist()]))
else:
    arch, path, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    model = sequential(arch)
    model.load_state_dict(load_file(path))
    x, _ = mnist_test(n, arch)
    with torch.no_grad():
        print(json.dumps(model(x).tolist()))
