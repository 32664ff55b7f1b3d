"""Which BLAS a PyTorch peer really calls, read from the libraries mapped into this process.

Debian's torch links libblas.so.3, which update-alternatives points at the reference BLAS
unless an optimised one (OpenBLAS, BLIS, MKL) is installed; timing a peer on the reference
BLAS compares us with PyTorch at its worst. Call blas_in_use() after a matmul has run.
"""
import os
import re

OPTIMISED = ("openblas", "blis", "mkl")


def blas_in_use():
    libraries = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if "/" in line else ""
            if re.search(r"(blas|blis|mkl)[^/]*\.so", os.path.basename(path)):
                libraries.add(os.path.realpath(path))
    kinds = [k for k in OPTIMISED if any(k in lib.lower() for lib in libraries)]
    if kinds:
        kind = kinds[0]
    elif any("/blas/" in lib for lib in libraries):
        kind = "reference"
    else:
        kind = "unknown"
    return {"blas": kind, "blasLibraries": sorted(libraries)}
