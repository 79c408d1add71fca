"""Writes spy_golden.json: what Spectral Python reads from every ENVI cube in shared/data.

usage: /usr/bin/python3 spy_golden.py [SHARED_DATA_DIR]
(default: ../../../../shared/data relative to this script; needs Debian's
python3-spectral, 0.22.4 when the golden file was made).

For each cube it records the header fields as SPy parses them and a digest of
the pixels as spectral.open_image(hdr).load() returns them: SHA-256 of the
array as float32, little-endian, in BIP order (lines, samples, bands), after
SPy's default division by the reflectance scale factor, plus a few sampled
values. cube_spy_test.go recomputes the same from Atalaya's reader.
"""
import glob, hashlib, json, os, sys

import numpy as np
import spectral

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', '..', '..', 'shared', 'data'))

out = {'spectral_version': spectral.__version__, 'numpy_version': np.__version__, 'cubes': []}
for hdr in sorted(glob.glob(os.path.join(data, '**', '*.hdr'), recursive=True)):
    img = spectral.open_image(hdr)
    arr = np.asarray(img.load())  # default: scale=True, dtype float32
    assert arr.dtype == np.float32, arr.dtype
    lines, samples, bands = arr.shape
    le = arr.astype('<f4', copy=False)
    m = img.metadata
    rng = np.random.default_rng(1)
    samples_at = [(0, 0, 0), (lines - 1, samples - 1, bands - 1)] + [
        (int(rng.integers(lines)), int(rng.integers(samples)), int(rng.integers(bands))) for _ in range(6)]
    rec = {
        'path': os.path.relpath(hdr, data),
        'lines': lines, 'samples': samples, 'bands': bands,
        'interleave': m['interleave'].lower(),
        'byte_order': int(m.get('byte order', 0)),
        'data_type': int(m['data type']),
        'offset': int(img.offset),
        'scale_factor': float(img.scale_factor),
        'sha256_f32le_bip': hashlib.sha256(np.ascontiguousarray(le).tobytes()).hexdigest(),
        'values': [[y, x, b, float(arr[y, x, b])] for (y, x, b) in samples_at],
        'wavelength': [float(w) for w in img.bands.centers] if img.bands.centers else None,
        'fwhm': [float(w) for w in img.bands.bandwidths] if img.bands.bandwidths else None,
        'wavelength_units': img.bands.band_unit,
        'bbl': [int(float(v)) for v in m['bbl']] if 'bbl' in m else None,
        'default_bands': [int(v) for v in m['default bands']] if 'default bands' in m else None,
        'keys': list(m.keys()),
    }
    out['cubes'].append(rec)

with open(os.path.join(here, 'spy_golden.json'), 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
print('wrote', len(out['cubes']), 'cubes')
