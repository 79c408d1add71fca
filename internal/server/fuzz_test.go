package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"-75,4,-73,5", "-180,-90,180,90", "1,2,3", "NaN,0,1,1", "1e309,0,1,1", " -1 , -1 , 1 , 1 ", "10,0,-10,1", ",,,", "0x1p-2,0,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBBox(s)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Field != "bbox" || ae.Status != 400 {
				t.Fatalf("%q: error %v does not name bbox", s, err)
			}
			return
		}
		for _, v := range []float64{b.MinLat, b.MinLon, b.MaxLat, b.MaxLon} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%q: accepted %+v", s, b)
			}
		}
		if b.MinLon < -180 || b.MaxLon > 180 || b.MinLat < -90 || b.MaxLat > 90 || b.MinLon > b.MaxLon || b.MinLat > b.MaxLat {
			t.Fatalf("%q: accepted %+v", s, b)
		}
		// Printing it back gives the same box.
		b2, err := parseBBox(fmt.Sprintf("%v,%v,%v,%v", b.MinLon, b.MinLat, b.MaxLon, b.MaxLat))
		if err != nil || b2 != b {
			t.Fatalf("%q: round trip %+v → %+v, %v", s, b, b2, err)
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Add("", "gas=ammonia", "01abc")
	f.Add("AAAA", "", "x")
	f.Add(cursor{filters: "bbox=1%2C2%2C3%2C4", after: "01H"}.encode(), "bbox=1%2C2%2C3%2C4", "zz|y")
	f.Fuzz(func(t *testing.T, s, filters, after string) {
		got, err := parseCursor(s, filters)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Field != "cursor" {
				t.Fatalf("%q: error %v does not name cursor", s, err)
			}
		} else if s == "" && got != "" {
			t.Fatalf("empty cursor gave %q", got)
		}
		// What the server makes it reads back, for these filters only.
		if after == "" {
			return
		}
		c := cursor{filters: filters, after: after}.encode()
		if len(c) > 512 {
			return
		}
		got, err = parseCursor(c, filters)
		if err != nil || got != after {
			t.Fatalf("round trip of %q: %q, %v", after, got, err)
		}
		if _, err := parseCursor(c, filters+"&x=1"); err == nil {
			t.Fatalf("cursor for %q accepted with other filters", filters)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"action":"confirm"}`, `{"action":"release","release_to":["COL"],"reason":"r"}`,
		`{"action":"confirm","x":1}`, `{"action":"confirm"} {}`, `[]`, `null`, `{"action":7}`, `{"reason":"\ud800"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req decisionRequest
		err := decodeStrict(bytes.NewReader(b), 1<<20, &req)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("%q: error %v is not a 400 naming the problem", b, err)
			}
			return
		}
		// Accepted: it is one JSON value with only known fields, and its
		// encoding decodes to the same request.
		if !json.Valid(bytes.TrimSpace(b)) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		enc, _ := json.Marshal(req)
		var again decisionRequest
		if err := decodeStrict(bytes.NewReader(enc), 1<<20, &again); err != nil || !reflect.DeepEqual(req, again) {
			t.Fatalf("%q: round trip %+v → %+v, %v", b, req, again, err)
		}
		if strings.Contains(string(b), `"status"`) && !strings.Contains(string(b), `\"status\"`) && !strings.Contains(req.Reason+req.Action+strings.Join(req.ReleaseTo, ""), "status") {
			t.Fatalf("%q: accepted an unknown field", b)
		}
	})
}

// FuzzParseRevisit: GET /revisit's query is accepted only within its
// bounds; anything else is a 400 naming a parameter.
func FuzzParseRevisit(f *testing.F) {
	for _, s := range []string{"bbox=-74.12,4.58,-74.08,4.62&gas=acetone&top=3&source_kgh=2", "bbox=-75,4,-74,5",
		"bbox=1,1,1.1,1.1&top=51", "bbox=1,1,1.1,1.1&source_kgh=NaN", "bbox=1,1,1.1,1.1&source_kgh=Inf&top=-1", "top=2", "%zz", "bbox=1,1,1.1,1.1&gas="} {
		f.Add(s)
	}
	s := &Server{cfg: Config{Gases: []string{"acetone"}}}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rq, err := s.parseRevisit(q)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Field == "" || ae.Status != 400 {
				t.Fatalf("%q: error %v does not name a parameter", raw, err)
			}
			return
		}
		b := rq.bbox
		if b.MaxLat-b.MinLat > maxRevisitSpanDeg || b.MaxLon-b.MinLon > maxRevisitSpanDeg || rq.top < 1 || rq.top > 50 ||
			!(rq.sourceKgH > 0) || math.IsInf(rq.sourceKgH, 0) || rq.gas == "" {
			t.Fatalf("%q: accepted %+v", raw, rq)
		}
	})
}
