#!/usr/bin/env python3
"""Trains the tiny problem of scripts/interop/schedule-free-interop with the authors' reference
implementation (the `schedulefree` package on PyTorch) and compares the weights with budgetrain's.

    py=$(scripts/python-env torch schedulefree safetensors numpy | tail -1)
    "$py" scripts/interop/compare_schedulefree.py DIR [--tolerance T]

DIR holds what the Lua side wrote: `initial.safetensors` (the MLP's starting weights) and, for
each case, `<case>.safetensors` (budgetrain's weights after training: the averaged iterate x).
The data, the model (Linear(4, 16), ReLU, Linear(16, 3)), the loss (mean cross-entropy), the
full-batch steps and each case's settings are the Lua side's. For every case and every
`schedulefree` class that implements it, prints the largest absolute difference of x (after
`optimizer.eval()`) from budgetrain's; exits 1 when one exceeds the tolerance, 2 on bad arguments.
"""
import argparse
import contextlib
import importlib.metadata
import io
import math
import sys

import numpy as np
import torch
import schedulefree
from safetensors.numpy import load_file

EXAMPLES, STEPS = 64, 25

# name: (classes, settings, linear decay?); lr values are powers of two, so that budgetrain's
# single-precision rate is the same number as PyTorch's double. "sgd-linear" multiplies the rate
# by 1 - k/25 at step k (budgetrain's schedule.linear(); LambdaLR here), so the average is
# weighted by the largest rate so far, not the current one.
SGD = dict(lr=0.5, momentum=0.9, weight_decay=5e-4, warmup_steps=5)
ADAMW = dict(lr=0.015625, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, warmup_steps=5)
CASES = {
    "sgd": (("SGDScheduleFree", "SGDScheduleFreeReference"), SGD, False),
    "sgd-linear": (("SGDScheduleFree", "SGDScheduleFreeReference"), SGD, True),
    "adamw": (("AdamWScheduleFree", "AdamWScheduleFreeReference"), ADAMW, False),
}
# Printed for comparison, not checked: the paper's variant, whose bias correction differs.
INFORMATIVE = {"adamw": ("AdamWScheduleFreePaper",)}


def data():
    """The Lua side's data: x_i = (sin i, cos 2i, sin 3i · cos i, i / 64), label i mod 3."""
    inputs = [[math.sin(i), math.cos(2 * i), math.sin(3 * i) * math.cos(i), i / EXAMPLES] for i in range(1, EXAMPLES + 1)]
    labels = [i % 3 for i in range(1, EXAMPLES + 1)]
    return torch.tensor(inputs, dtype=torch.float32), torch.tensor(labels)


def model(initial):
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    net.load_state_dict({k.removeprefix("model."): torch.from_numpy(v) for k, v in initial.items()})
    return net


def train(cls, settings, initial, linear):
    torch.manual_seed(0)
    net = model(initial)
    with contextlib.redirect_stdout(io.StringIO()):  # the reference classes print their mode switches
        opt = getattr(schedulefree, cls)(net.parameters(), **settings)
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / STEPS) if linear else None
        opt.train()
        x, y = data()
        for _ in range(STEPS):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            if decay:
                decay.step()
        opt.eval()  # the parameters become the average x
    return {"model." + k: v.detach().numpy() for k, v in net.state_dict().items()}


def difference(ours, theirs):
    return max(float(np.max(np.abs(ours[k] - theirs[k]))) for k in theirs)


def main(argv):
    parser = argparse.ArgumentParser(description="Compare budgetrain's schedule-free optimizers with the schedulefree package.")
    parser.add_argument("dir")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args(argv[1:])
    torch.set_num_threads(1)
    initial = load_file(f"{args.dir}/initial.safetensors")
    worst = 0.0
    version = importlib.metadata.version("schedulefree")
    print(f"PyTorch {torch.__version__}, schedulefree {version}: {STEPS} full-batch steps on {EXAMPLES} examples")
    for case, (classes, settings, linear) in CASES.items():
        ours = load_file(f"{args.dir}/{case}.safetensors")
        for cls in classes + INFORMATIVE.get(case, ()):
            theirs = train(cls, settings, initial, linear)
            diff = difference(ours, theirs)
            moved = difference(initial, theirs)
            checked = cls in classes
            note = "" if checked else "   (another variant: not checked)"
            print(f"  {case:10s} vs {cls:27s} max |Δx| = {diff:.3g}   (x moved up to {moved:.3g} from the start){note}")
            if checked:
                worst = max(worst, diff)
    if worst > args.tolerance:
        print(f"compare_schedulefree: a difference of {worst:.3g} exceeds the tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
