// Package mbtiles reads an MBTiles file (MBTiles 1.3, Mapbox: an SQLite
// database with a metadata table of name/value rows and a tiles table of
// zoom_level, tile_column, tile_row, tile_data) and serves its tiles over
// HTTP for the web map's offline imagery layer.
//
// Tiles are addressed as the web map asks for them, XYZ ("slippy map"):
// zoom z, column x from the antimeridian eastward, row y from the north
// downward. The file stores rows in TMS order, from the south upward, so
// the row read is 2^z − 1 − y (the MBTiles specification's y-flip).
//
// The file is opened read-only and never changed. Tile bytes are served as
// stored, with the media type of the metadata's format (png, jpg, webp;
// pbf vector tiles, gzip-compressed as the specification requires, with
// Content-Encoding: gzip).
package mbtiles
