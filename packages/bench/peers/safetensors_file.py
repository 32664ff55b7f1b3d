"""safetensors read without the safetensors package (Debian ships python3-torch, not it).

The format: a u64 little-endian header length, a JSON header mapping names to
{dtype, shape, data_offsets}, then raw little-endian data. F32, F16 and BF16 are read into
float32 tensors.
"""
import json
import struct

import numpy
import torch


def read_safetensors(path):
    """name -> float32 tensor."""
    with open(path, "rb") as handle:
        data = handle.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length].decode("utf8"))
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[start + begin : start + end]
        dtype = entry["dtype"]
        if dtype == "F32":
            values = numpy.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            values = numpy.frombuffer(raw, dtype="<f2").astype(numpy.float32)
        elif dtype == "BF16":
            # bfloat16 is the top half of a float32.
            values = (numpy.frombuffer(raw, dtype="<u2").astype(numpy.uint32) << 16).view(numpy.float32)
        else:
            raise SystemExit(f"{path}: tensor {name} has dtype {dtype}; this peer reads F32, F16, BF16")
        tensors[name] = torch.from_numpy(values.astype(numpy.float32)).reshape(entry["shape"])
    return tensors
