#!/usr/bin/env python3
"""Checks a run's TensorBoard event file against its metrics.jsonl, with TensorBoard's own reader.

    py=$(scripts/python-env tensorboard | tail -1)
    "$py" scripts/interop/check_tensorboard.py RUN_DIR...

For each RUN_DIR (a run's folder in an experiment), loads the events with
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator` and checks:
the tags train/lr and train/loss, and eval/* for what the evaluations measured; every step
of metrics.jsonl appears once (no duplicate after a resume); each value equals the
metrics' value rounded to float32. Exits 1 with the first problems on stderr.
"""
import json
import math
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def check(run_dir):
    problems = []
    expected = {}
    with open(f"{run_dir}/metrics.jsonl") as f:
        for line in f:
            record = json.loads(line)
            step = record["step"]
            if record.get("event") == "evaluation":
                for key in ("train_loss", "test_loss", "test_accuracy", "grad_norm"):
                    if record.get(key) is not None:
                        expected.setdefault(f"eval/{key}", []).append((step, record[key]))
            else:
                expected.setdefault("train/lr", []).append((step, record["lr"]))
                expected.setdefault("train/loss", []).append((step, record["loss"]))
    accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    if tags != set(expected):
        problems.append(f"tags {sorted(tags)}, metrics.jsonl has {sorted(expected)}")
    for tag in sorted(set(expected) & tags):
        events = accumulator.Scalars(tag)
        got = [(e.step, e.value) for e in events]
        want = [(step, f32(value)) for step, value in expected[tag]]
        steps = [s for s, _ in got]
        if len(steps) != len(set(steps)):
            problems.append(f"{tag}: duplicate steps")
        if [s for s, _ in got] != [s for s, _ in want]:
            problems.append(f"{tag}: steps {steps[:5]}... ({len(steps)}), metrics.jsonl has {[s for s, _ in want][:5]}... ({len(want)})")
        elif any(not (math.isclose(g, w, rel_tol=0, abs_tol=0) or (math.isnan(g) and math.isnan(w))) for (_, g), (_, w) in zip(got, want)):
            problems.append(f"{tag}: values differ from metrics.jsonl")
    print(f"{run_dir}: {', '.join(f'{t} ({len(expected[t])})' for t in sorted(expected))}")
    return problems


def main(argv):
    problems = []
    for run_dir in argv[1:]:
        problems += [f"{run_dir}: {p}" for p in check(run_dir)]
    for p in problems[:20]:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
