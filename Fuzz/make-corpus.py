#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into Fuzz/corpus/<target>/ (committed; run
again only to change the seeds). Each seed is a small valid or nearly valid input in the
layout the target reads (see Fuzz/Sources/<target>)."""
import gzip, json, os, shutil, struct

here = os.path.dirname(os.path.abspath(__file__))

def seeds(target, files):
    folder = os.path.join(here, "corpus", target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

def idx_images(count, rows, cols, magic=0x803):
    return struct.pack(">IIII", magic, count, rows, cols) + bytes((i * 37 + 11) % 256 for i in range(count * rows * cols))

def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)

seeds("fuzz-idx", {
    "images": idx_images(2, 2, 3),
    "labels": idx_labels([3, 0, 9]),
    "truncated": idx_images(2, 2, 3)[:-4],
    "long": idx_labels([1, 2]) + b"\x07\x07",
    "wrong-magic": idx_images(1, 1, 1, magic=0x804),
    "huge-header": struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFF, 0xFFFF),
})

# fuzz-idx-gzip: mode byte, 4 bytes of a size field, then the IDX file.
seeds("fuzz-idx-gzip", {
    "one-member": b"\x00" + b"\x00" * 4 + idx_images(2, 2, 3),
    "members": b"\x05" + b"\x00" * 4 + idx_labels([1, 2, 3, 4]),
    "lying-size": b"\x02" + struct.pack(">I", 16) + struct.pack(">IIII", 0x803, 1 << 16, 256, 256),
    "raw-gzip": b"\x03" + b"\x00" * 4 + gzip.compress(idx_images(1, 2, 2))[2:],
})

def cifar_record(labels, r):
    return bytes(labels) + bytes((r * 5 + i) % 256 for i in range(3072))

# fuzz-cifar: mode byte (bit 0: CIFAR-100, bit 1: gzip), then the batch.
seeds("fuzz-cifar", {
    "cifar10": b"\x00" + cifar_record([3], 0) + cifar_record([9], 1),
    "cifar100": b"\x01" + cifar_record([19, 99], 0),
    "gzip": b"\x02" + cifar_record([1], 2),
    "truncated": b"\x00" + cifar_record([1], 0)[:-10],
    "bad-label": b"\x00" + cifar_record([10], 0),
})

# fuzz-csv: header, label, delimiter and gzip choices (one byte each), then the text.
seeds("fuzz-csv", {
    "header": b"\x00\x00\x00\x00" + b"a,b,label\n1,2,0\n3.5,-4,1\n",
    "names": b"\x01\x05\x00\x00" + b"x;label\n1;cat\n2;dog\n" ,
    "quoted": b"\x00\x00\x00\x01" + b'"a, b",c\n"1",2\n\n"3",4\r\n',
    "tabs": b"\x02\x01\x02\x00" + b"1\t2\t3\n4\t5\t6\n",
    "bom": b"\x00\x00\x00\x00" + b"\xef\xbb\xbfa,b\n1,0\n",
})

def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data

fixture = os.path.join(here, "..", "Tests", "BudgetExperimentsTests", "Fixtures", "python-written.safetensors")
seeds("fuzz-safetensors", {
    "python-written": open(fixture, "rb").read(),
    "two-tensors": safetensors({"a": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), "b": ("I64", [1], struct.pack("<q", 7))},
                               {"format": "pt"}),
    "empty": safetensors({}),
    "u64": safetensors({"g": ("U64", [4], struct.pack("<4Q", 1, 2, 3, 4))}),
})

columns = "experiment,run,schedule,budget,budget_steps,seed,status,steps,seconds,final_lr,train_loss,test_loss,test_accuracy,grad_norm"
seeds("fuzz-results", {
    "two-rows": (columns + "\nexp,linear-b0.5-s0,linear,0.5,50,0,ok,50,1.250,0,0.3,0.4,0.9,0.01\n"
                 + "exp,\"cos,x\",cosine,1,100,1,diverged,80,2.000,nan,inf,,,\n").encode(),
    "extras": (columns + ",lr,message\nexp,r,step,0.25,,2,failed,3,0.1,0.1,,,,,0.05,\"bad \"\"x\"\"\"\n").encode(),
    "header-only": (columns + "\n").encode(),
})

# fuzz-lua-options: choice bytes (how many calls, which call, then table shapes and values).
seeds("fuzz-lua-options", {
    "sgd": bytes([0, 0, 3, 1, 0, 0, 1, 0, 2, 2, 3]),
    "step": bytes([1, 4, 2, 1, 9, 6, 2, 0, 1, 0, 7, 1, 20, 0]),
    "from-table": bytes([0, 41, 3, 1, 62, 6, 2, 6, 2, 0, 1, 0, 2, 1, 63, 6, 1, 0, 0, 1, 65, 0, 13]),
    "sequence": bytes([2, 15, 2, 0, 6, 2, 0, 0, 5, 3, 23, 0, 1, 5, 1, 46]),
    "conv": bytes([0, 23, 0, 5, 0, 7, 0, 1, 2, 1, 29, 0, 14]),
    "sparse": bytes([0, 30, 1, 0, 7, 1]),
})
