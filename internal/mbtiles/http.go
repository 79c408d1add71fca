package mbtiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ServeHTTP serves, below the prefix the caller strips,
//
//	GET metadata.json   the Metadata as JSON (the map asks for it to learn
//	                    that an imagery layer exists and its zoom range)
//	GET {z}/{x}/{y}     a tile (XYZ), optionally with an extension
//	                    (.png, .jpg, .webp, .pbf), 404 if absent
//
// so a server mounts it as
//
//	mux.Handle("GET /tiles/", http.StripPrefix("/tiles/", ts))
func (ts *Tileset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "metadata.json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_ = json.NewEncoder(w).Encode(ts.meta)
		return
	}
	z, x, y, err := ParsePath(p)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := ts.Tile(r.Context(), z, x, y)
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, "read tile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType(ts.meta.Format))
	if ts.meta.Format == "pbf" && bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		w.Header().Set("Content-Encoding", "gzip")
	}
	// Tiles of a file do not change while it is served; a day's caching
	// spares the server on every pan (private: the server may require a
	// session for them).
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

func mediaType(format string) string {
	switch format {
	case "png":
		return "image/png"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "webp":
		return "image/webp"
	case "pbf":
		return "application/x-protobuf"
	}
	return "application/octet-stream"
}

// ParsePath reads "z/x/y" or "z/x/y.ext" (decimal, no sign, no leading
// zeros beyond "0") and checks the address lies in the zoom's grid.
func ParsePath(p string) (z, x, y int, err error) {
	parts := strings.Split(p, "/")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: path %q: want z/x/y", ErrInvalid, p)
	}
	if i := strings.IndexByte(parts[2], '.'); i >= 0 {
		switch parts[2][i+1:] {
		case "png", "jpg", "jpeg", "webp", "pbf":
		default:
			return 0, 0, 0, fmt.Errorf("%w: path %q: unknown extension", ErrInvalid, p)
		}
		parts[2] = parts[2][:i]
	}
	var v [3]int
	for i, s := range parts {
		n, err := parseUint(s)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: path %q: %s %q: %v", ErrInvalid, p, [3]string{"zoom", "column", "row"}[i], s, err)
		}
		v[i] = n
	}
	if err := checkAddress(v[0], v[1], v[2]); err != nil {
		return 0, 0, 0, err
	}
	return v[0], v[1], v[2], nil
}

func parseUint(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("want a decimal integer")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, errors.New("want a decimal integer")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
