package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// decodeJSON reads exactly one JSON value into v from a body of at most
// max bytes, refusing unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, CodeInvalid, "Content-Type", "Content-Type %q: want application/json", ct)
	}
	body := http.MaxBytesReader(w, r.Body, max)
	return decodeStrict(body, max, v)
}

// decodeStrict is decodeJSON's decoder over any reader.
func decodeStrict(body io.Reader, max int64, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, max)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, max)
		}
		return invalid("body", "want one JSON value, found more after it")
	}
	return nil
}

func jsonError(err error, max int64) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "body", "the body is larger than %d bytes", max)
	case errors.Is(err, io.EOF):
		return invalid("body", "empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "the JSON ends too early")
	case errors.As(err, &se):
		return invalid("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &ute):
		return invalid(ute.Field, "want %s, got JSON %s", ute.Type, ute.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(f, "unknown field %q", f)
	}
	return invalid("body", "%v", err)
}

// parseBBox parses "minLon,minLat,maxLon,maxLat" in degrees.
func parseBBox(s string) (store.BBox, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return store.BBox{}, invalid("bbox", "%q: want minLon,minLat,maxLon,maxLat", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return store.BBox{}, invalid("bbox", "%q: value %d is not a finite number", s, i+1)
		}
		v[i] = f
	}
	b := store.BBox{MinLon: v[0], MinLat: v[1], MaxLon: v[2], MaxLat: v[3]}
	switch {
	case b.MinLon < -180 || b.MaxLon > 180:
		return store.BBox{}, invalid("bbox", "%q: longitudes must be within [-180, 180]", s)
	case b.MinLat < -90 || b.MaxLat > 90:
		return store.BBox{}, invalid("bbox", "%q: latitudes must be within [-90, 90]", s)
	case b.MinLon > b.MaxLon:
		return store.BBox{}, invalid("bbox", "%q: minLon > maxLon (boxes across the antimeridian are not supported)", s)
	case b.MinLat > b.MaxLat:
		return store.BBox{}, invalid("bbox", "%q: minLat > maxLat", s)
	}
	return b, nil
}

var world = store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}

// cursor is where a page starts: after the item with this key. It is sent
// as opaque base64url of "v1|<fingerprint>|<key>", where the fingerprint
// hashes the filters, so a cursor is refused with other filters.
type cursor struct {
	filters string
	after   string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + fingerprint(c.filters) + "|" + c.after))
}

func fingerprint(filters string) string {
	h := sha256.Sum256([]byte(filters))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// parseCursor decodes a cursor made for these filters ("" → start).
func parseCursor(s, filters string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > 512 {
		return "", invalid("cursor", "too long: use the next_cursor of the previous page unchanged")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", invalid("cursor", "not a cursor this server made: use next_cursor unchanged")
	}
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) != 3 || string(parts[0]) != "v1" || len(parts[2]) == 0 {
		return "", invalid("cursor", "not a cursor this server made: use next_cursor unchanged")
	}
	if string(parts[1]) != fingerprint(filters) {
		return "", invalid("cursor", "made for other filters: start again without a cursor")
	}
	return string(parts[2]), nil
}

// parseLimit parses a page size in [1, max], default def.
func parseLimit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit", "%q: want an integer from 1 to %d", s, max)
	}
	return n, nil
}

// parseTime parses an RFC 3339 time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(field, "%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return t, nil
}

// parseProbability parses a probability in [0, 1].
func parseProbability(field, s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, invalid(field, "%q: want a number from 0 to 1", s)
	}
	return f, nil
}

// parseVersion parses an If-Match header: "<version>" (quoted, as sent in
// ETag) or bare.
func parseVersion(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, errorf(http.StatusPreconditionRequired, CodePreconditionFailed, "If-Match",
			`missing If-Match: send the site's ETag ("<version>") so a decision on a stale view is refused`)
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, invalid("If-Match", "%q: want the site's ETag, a quoted version such as \"3\"", h)
	}
	return v, nil
}
