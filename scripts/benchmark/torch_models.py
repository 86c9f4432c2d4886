"""The PyTorch side of scripts/bench: the same three models, data, optimizer and batch as the
budgetrain side (scripts/benchmark/*.lua), timed the same way (training steps only, data in memory).

Usage: torch_models.py MODEL STEPS THREADS
Prints one JSON line: {"model", "examples_per_second", "seconds", "steps", "loss"}.
"""
import gzip
import json
import sys
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def load_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, 28, 28).astype(np.float32) / 255.0


def load_labels(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def basic_block(cin, cout, stride):
    body = nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
    shortcut = None
    if stride != 1 or cin != cout:
        shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    return Residual(body, shortcut)


class Residual(nn.Module):
    def __init__(self, body, shortcut):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


def make_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "resnet":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            basic_block(16, 16, 1), basic_block(16, 32, 2), basic_block(32, 64, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    raise SystemExit(f"unknown model {name}")


def main():
    name, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.from_numpy(load_images(f"{DATA}/train-images-idx3-ubyte.gz"))
    y = torch.from_numpy(load_labels(f"{DATA}/train-labels-idx1-ubyte.gz"))
    model = make_model(name)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    batch = 128
    per_epoch = (len(x) + batch - 1) // batch
    order = torch.randperm(len(x))
    warmup = min(5, steps)
    loss = None
    for step in range(steps + warmup):
        if step == warmup:
            start = time.perf_counter()
        b = step % per_epoch
        idx = order[b * batch:(b + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    examples = sum(min(batch, len(x) - (s % per_epoch) * batch) for s in range(warmup, steps + warmup))
    print(json.dumps({"model": name, "examples_per_second": examples / seconds, "seconds": seconds,
                      "steps": steps, "loss": float(loss.detach())}))


if __name__ == "__main__":
    main()
