// Package spectra is the signature library: gas absorption spectra, their
// import from JCAMP-DX and CSV, their resampling to a sensor's bands, and
// the radiometry (Planck radiance, brightness temperature) and unit
// conversions the detectors need.
//
// # What it owns
//
//   - ReadJCAMP: a JCAMP-DX 4.24/5 reader (every ASDF compression, XY
//     tables, compound files) that refuses what is not an XY spectrum and
//     never panics.
//   - FromJCAMP and ReadCSV: conversion of a gas-phase spectrum into an
//     Entry of absorption coefficients per ppm·m.
//   - Library, Entry: the signature set, its JSON file format
//     (docs/signature-library.md), and Default, the library embedded in the
//     binary, generated from shared/data/spectra/ir by cmd/mklibrary.
//   - Entry.Resample: band-averaged k through Gaussian spectral responses.
//   - PlanckWavenumber, PlanckWavelength and their inverses.
//   - Unit conversions: µm ↔ cm⁻¹, nm ↔ µm, ppm·m ↔ kg/m².
//
// # Units (everywhere in the package)
//
//   - wavenumber ν: cm⁻¹; wavelength λ: µm (λ = 10⁴/ν);
//   - absorption coefficient k: natural-log absorption per ppm·m, so a thin
//     plume of concentration-pathlength c (ppm·m) transmits exp(−k·c).
//     Decadic values (the NIST files' "(micromol/mol)-1m-1 (base 10)") are
//     multiplied by ln 10 on import;
//   - concentration-pathlength: ppm·m (µmol/mol × m);
//   - column mass: kg/m²; molar mass: g/mol; pressure: Pa; temperature: K;
//     cell length: m;
//   - radiance: W/(m²·sr·cm⁻¹) per wavenumber, W/(m²·sr·µm) per wavelength.
//
// # Invariants
//
// An Entry's grid is strictly ascending in wavenumber, finite and positive,
// with one finite k per point (Entry.Validate). Outside its grid an entry
// has no value: At returns NaN and Resample reports ErrNotCovered, so "not
// measured" is never mistaken for "does not absorb". Names are GasID
// identifiers: lower case, [a-z0-9-] and '_', never a comma.
//
// Arithmetic is float64 throughout: the library is small and resampled
// once per sensor, so precision costs nothing here; detectors convert the
// resampled signature to float32.
package spectra
