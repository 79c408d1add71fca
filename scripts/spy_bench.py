#!/usr/bin/python3
"""Times Spectral Python's detectors on an ENVI cube, for `atalaya bench`.

Usage: spy_bench.py CUBE.hdr TARGET.txt
TARGET.txt holds the target spectrum, one value per band. Prints one JSON
object: seconds for loading, background statistics, and each detector
(rx, matched_filter, ace) given those statistics, plus numpy's BLAS.

Run with Debian's /usr/bin/python3 (python3-spectral, python3-numpy).
"""
import json
import sys
import time

import numpy as np
import spectral


def blas_name():
    try:
        cfg = np.__config__.CONFIG  # numpy >= 1.25
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        # Older numpy links the system libblas.so.3; Debian's alternatives
        # say which implementation that is (e.g. openblas-pthread).
        import os
        for lib in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"):
            if os.path.exists(lib):
                return "system libblas.so.3 -> " + os.path.realpath(lib)
        return "system libblas (Debian alternatives)"


def main():
    hdr, target_path = sys.argv[1], sys.argv[2]
    out = {"spectral_version": spectral.__version__, "numpy_version": np.__version__, "blas": blas_name()}
    t0 = time.perf_counter()
    img = spectral.open_image(hdr).load()
    X = np.asarray(img, dtype=np.float32)
    out["load_s"] = time.perf_counter() - t0
    target = np.loadtxt(target_path, dtype=np.float64)
    t0 = time.perf_counter()
    stats = spectral.calc_stats(X)
    out["stats_s"] = time.perf_counter() - t0
    for name, fn in (
        ("rx", lambda: spectral.rx(X, background=stats)),
        ("mf", lambda: spectral.matched_filter(X, target, background=stats)),
        ("ace", lambda: spectral.ace(X, target, background=stats)),
    ):
        t0 = time.perf_counter()
        r = fn()
        out[name + "_s"] = time.perf_counter() - t0
        out[name + "_checksum"] = float(np.nansum(np.asarray(r, dtype=np.float64)))
    out["pixels"] = int(X.shape[0] * X.shape[1])
    out["bands"] = int(X.shape[2])
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
