// Package cube owns hyperspectral image cubes: the in-memory Cube value that
// every detector works on, and the ENVI raster format (header, BSQ/BIL/BIP
// data of every real ENVI data type in either byte order) that they are read
// from and written to.
//
// # The Cube value
//
// In memory a cube is always band-interleaved-by-pixel (BIP) float32, like an
// image.RGBA with Bands channels: the spectrum of pixel (x, y) is the Bands
// consecutive values starting at PixOffset(x, y). X counts samples (columns,
// cross-track for a pushbroom sensor), Y counts lines (rows, along-track).
// Sub-cubes share pixels with their parent.
//
// # Reading and streaming
//
// DecodeHeader parses header text and never allocates pixels. Open reads the
// header, finds the data file and checks that it holds every byte the header
// promises before anything is allocated, so a lying header costs nothing.
// Headers are refused, with an error wrapping ErrFormat that names the key and
// the value, for: missing samples, lines, bands or data type; sizes that are
// zero, negative or absurd (more than 2^31 lines or samples, 2^16 bands) or
// whose product overflows an int64 file size; unknown data types; per-band
// lists (wavelength, fwhm, bbl, band names) whose length is not bands;
// unclosed braces; a header offset beyond the end of the data file; a data
// file shorter than samples × lines × bands × size + offset. Complex data
// (types 6 and 9) is refused with ErrUnsupported.
//
// File.ReadLines reads any range of whole lines into a caller's Cube;
// File.Blocks streams the file as successive blocks of lines that reuse one
// buffer, so memory is bounded by the block size whatever the interleave. BIL
// and BIP blocks are read with one ReadAt per group of lines (up to 32 MiB);
// a BSQ block with one ReadAt per band, covering that band's run of the
// block's lines, then transposed to BIP in cache-sized tiles. A File is not
// safe for concurrent use.
//
// # Values and the reflectance scale factor
//
// Values are converted to float32 exactly as stored (64-bit integers and
// float64 are rounded to the nearest float32); no offset or data-ignore value
// is applied (the header carries them, and the detectors mask ignored values
// themselves).
//
// Spectral Python's load() divides by the header's "reflectance scale factor"
// by default (in float32). Atalaya does not, unless asked: set File.Scaled
// (or call Header.Scale on a cube) to get exactly SPy's values; the golden
// test against SPy does this. The reason for the default: detectors are
// invariant to a global scale, stored integers are exact, and a pipeline that
// writes a cube back keeps the stored values.
//
// # Writing
//
// Create writes the header (EncodeHeader: every key the Header's typed fields
// cover, then every other key in h.Keys with its raw value, so unknown keys
// survive a round trip) and sizes the data file (<base>.img); Writer.WriteLines
// appends whole lines in order in the header's interleave, data type and byte
// order (BSQ by WriteAt at each band's offset); Close fails, naming how many
// lines are missing, if the cube is incomplete, and syncs. Conversion from
// float32 to integer types rounds half away from zero and clamps to the
// type's range; NaN is written as 0.
//
// # Georeference
//
// Header.Georef turns "map info" into an affine pixel → map transform
// (Georef.GeoTransform, GDAL's order and rotation convention) in 0-based
// continuous pixel coordinates: (0, 0) is the upper-left corner of the
// upper-left pixel, pixel (x, y)'s centre is (x+0.5, y+0.5), and ENVI's
// 1-based reference pixel (1, 1) is that same corner. Georef.LatLon gives
// WGS-84 latitude and longitude for "UTM" (zone, North/South) and "Geographic
// Lat/Lon" grids; other projections and datums are refused with
// ErrUnsupported, and a header without map info returns ErrNoGeoref. The
// transverse Mercator projection (LatLonToUTM, UTMToLatLon) is Karney's (2011)
// 6th-order Krüger series, accurate to nanometres within a zone.
// PixelSizeMeters gives a pixel's ground size in metres (for geographic grids,
// from degrees at the scene's centre latitude on the WGS-84 ellipsoid).
//
// # Units
//
// Wavelength and FWHM are in the header's WavelengthUnits as written (nm or
// µm); map coordinates in metres (UTM) or degrees; lengths in metres.
// Arithmetic is float64 for geodesy and float32 for pixels.
package cube
