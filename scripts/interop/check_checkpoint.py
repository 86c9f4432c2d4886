#!/usr/bin/env python3
"""Checks a safetensors file (a budgetrain checkpoint) with the reference implementation.

    py=$(scripts/python-env safetensors numpy | tail -1)
    "$py" scripts/interop/check_checkpoint.py PATH [--expect-tensor NAME]... [--expect-metadata KEY[=VALUE]]...

Loads PATH with `safetensors.safe_open(PATH, "numpy")`, prints each tensor's name, dtype and
shape and the metadata keys. Exits 1 with a message on stderr when the file does not load,
when a tensor named by --expect-tensor is missing, or when a float tensor holds NaN; exits 2
on bad arguments.
"""
import argparse
import sys

import numpy as np
from safetensors import safe_open


def main(argv):
    parser = argparse.ArgumentParser(description="Check a safetensors checkpoint with the Python safetensors package.")
    parser.add_argument("path", help="the .safetensors file")
    parser.add_argument("--expect-tensor", action="append", default=[], metavar="NAME",
                        help="a tensor that must be present (repeatable)")
    parser.add_argument("--expect-metadata", action="append", default=[], metavar="KEY=VALUE",
                        help="a metadata entry that must hold VALUE, or be present with KEY alone (repeatable)")
    args = parser.parse_args(argv[1:])

    problems = []
    try:
        with safe_open(args.path, "numpy") as f:
            metadata = f.metadata() or {}
            names = sorted(f.keys())
            print(f"{args.path}: {len(names)} tensors")
            for name in names:
                tensor = f.get_tensor(name)
                print(f"  {name}  {tensor.dtype}  {list(tensor.shape)}")
                if np.issubdtype(tensor.dtype, np.floating):
                    nans = int(np.isnan(tensor).sum())
                    if nans:
                        problems.append(f"tensor {name!r} holds {nans} NaN of {tensor.size} values")
    except Exception as error:  # safetensors raises several types (SafetensorError, OSError, ...)
        print(f"{args.path}: does not load: {type(error).__name__}: {error}", file=sys.stderr)
        return 1

    print(f"  metadata keys: {', '.join(repr(k) for k in sorted(metadata)) if metadata else '(none)'}")
    for name in args.expect_tensor:
        if name not in names:
            problems.append(f"expected tensor {name!r} is missing")
    for entry in args.expect_metadata:
        key, _, value = entry.partition("=")
        if key not in metadata:
            problems.append(f"expected metadata {key!r} is missing")
        elif value and metadata[key] != value:
            problems.append(f"metadata {key!r} is {metadata[key]!r}, expected {value!r}")
    for problem in problems:
        print(f"{args.path}: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
