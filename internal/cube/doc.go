// Package cube owns hyperspectral image cubes: the in-memory Cube value that
// every detector works on, and the ENVI raster format (header, BSQ/BIL/BIP
// data of every real ENVI data type in either byte order) that they are read
// from and written to.
//
// In memory a cube is always band-interleaved-by-pixel (BIP) float32, like an
// image.RGBA with Bands channels: the spectrum of pixel (x, y) is the Bands
// consecutive values starting at PixOffset(x, y). X counts samples (columns,
// cross-track for a pushbroom sensor), Y counts lines (rows, along-track).
// Sub-cubes share pixels with their parent.
//
// Reading a header never allocates pixels. A File reads any range of whole
// lines into a caller-supplied Cube, so a cube larger than memory is processed
// in blocks of lines with memory bounded by the block size, whatever the file's
// interleave.
//
// Values are converted to float32 as stored; no scale factor, offset or
// data-ignore value is applied by the reader (the header carries them, and the
// detectors mask ignored values themselves).
package cube
