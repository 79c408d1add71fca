"""Golden scores from Spectral Python for the detect package's tests.

usage: /usr/bin/python3 spy_golden.py   (Debian python3-spectral 0.22.4; writes beside this script)

For each real anomaly scene in shared/data/anomaly (see shared/data/SOURCES.md) it computes,
with global background statistics of the whole scene (spectral.calc_stats: mean, covariance
dividing by N-1, no shrinkage):
  - spectral.rx(X)
  - spectral.matched_filter(X, target)
  - spectral.ace(X, target)
with target = the mean spectrum of the truth=1 pixels, and writes <scene>_spy.bin.gz:
  int32 LE lines, samples, bands;
  float64 LE target[bands];
  float32 LE rx[lines*samples], mf[...], ace[...]  (row-major: line, then sample).
"""
import gzip, os, struct
import numpy as np
import spectral

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, '..', '..', '..', '..', 'shared', 'data', 'anomaly')
print('spectral', spectral.__version__, 'numpy', np.__version__)
for name in ('hydice_urban', 'sandiego_plane', 'abu_urban_2'):
    X = spectral.open_image(os.path.join(data, name + '.hdr')).load().astype(np.float64)
    X = np.asarray(X)
    truth = np.asarray(spectral.open_image(os.path.join(data, name + '_truth.hdr')).load())[:, :, 0]
    R, C, B = X.shape
    target = X[truth == 1].mean(axis=0)
    bg = spectral.calc_stats(X)
    rx = spectral.rx(X, background=bg)
    mf = spectral.matched_filter(X, target, background=bg)
    ace = spectral.ace(X, target, background=bg)
    with gzip.GzipFile(os.path.join(here, name + '_spy.bin.gz'), 'wb', compresslevel=9, mtime=0) as f:
        f.write(struct.pack('<3i', R, C, B))
        f.write(target.astype('<f8').tobytes())
        for s in (rx, mf, ace):
            f.write(np.asarray(s, dtype='<f4').reshape(R, C).tobytes())
    print(name, R, C, B, 'rx', float(rx.mean()), 'mf@target', float(mf[truth == 1].mean()), 'ace', float(ace.max()))
