#!/usr/bin/env python3
"""Writes the safetensors file that budgetrain's Swift tests read to check interoperability.

The file is written by the reference implementation, `safetensors.numpy.save_file`, so the
Swift reader is tested against what Python really produces (header padding, tensor order,
metadata). The values are exact in their types; SafeTensorsTests checks every one of them, so
a change here needs the same change there.

Run through the project's cached environment:

    py=$(scripts/python-env safetensors numpy | tail -1)
    "$py" scripts/interop/make_safetensors_fixture.py [OUTPUT]

OUTPUT defaults to Tests/BudgetExperimentsTests/Fixtures/python-written.safetensors.
The reference writer orders the metadata keys by hash, so running this again can change the
file's bytes but not its content: commit a new fixture only when the content changed.
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUTPUT = os.path.join(ROOT, "Tests", "BudgetExperimentsTests", "Fixtures", "python-written.safetensors")


def tensors():
    return {
        # F32, row-major [2, 3]; every value is exact in binary.
        "layer.weight": np.array([[0.0, 0.5, -1.5], [2.25, 3.0, -4.125]], dtype=np.float32),
        # F64: values that are not exact in F32.
        "layer.bias": np.array([0.1, -2.5, 1e300], dtype=np.float64),
        # I64 scalar (shape []): one element.
        "step": np.array(1234567890123, dtype=np.int64),
        # I64 [2, 2], with 2^53 + 1, which does not survive a trip through a double.
        "counts": np.array([[-1, 0], [1, 9007199254740993]], dtype=np.int64),
        # A tensor with no elements: begin == end in the byte buffer.
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


METADATA = {
    "format": "np",
    "writer": "make_safetensors_fixture.py",
    "note": 'quotes " and backslash \\ and é',
}


def main(argv):
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    output = argv[1] if len(argv) == 2 else DEFAULT_OUTPUT
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    save_file(tensors(), output, metadata=METADATA)
    print(f"wrote {output} ({os.path.getsize(output)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
