// Package plume turns per-pixel score and retrieval maps into plumes: masks of
// connected pixels, their outlines, and what each holds.
//
// Segmentation uses hysteresis thresholds, as in Canny edge detection: a plume
// is a connected set (8-neighbourhood) of pixels whose score is at least Low,
// kept only if at least one of its pixels reaches High. High comes from the
// false-alarm control (the per-pixel threshold for the requested false alarms
// per km²), Low lets a plume grow into its fainter edges without letting
// isolated noise pixels through. Pixels with NaN scores (masked) are never
// part of a plume.
//
// Maps are row-major float32 with width W and height H; pixel (x, y) is at
// index y*W + x. Outlines are in pixel coordinates, with the corner of pixel
// (x, y) at (x, y) and its centre at (x+0.5, y+0.5).
package plume
