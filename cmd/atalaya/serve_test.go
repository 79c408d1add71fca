package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// granuleArchive simulates a small cube with an ammonia source and packs
// it as a granule archive.
func granuleArchive(t *testing.T) []byte {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	sc := sim.DemoScene(11)
	sc.Samples, sc.Lines, sc.Sensor.Bands = 40, 30, 16
	sc.Sensor.BadBands = nil
	sc.TempContrastK = 15
	sc.Sources = []sim.Source{{Name: "lab", East: 13, North: -15, Rates: map[string]float64{"ammonia": 20}}}
	o, err := sim.WriteScene(filepath.Join(t.TempDir(), "c"), sc, lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cube.Open(o.Radiance)
	if err != nil {
		t.Fatal(err)
	}
	hdr, data := f.HdrPath, f.DataPath
	_ = f.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, x := range []struct{ name, path string }{{"granule.hdr", hdr}, {"granule.img", data}} {
		b, err := os.ReadFile(x.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: x.name, Size: int64(len(b)), Mode: 0o644, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServeEndToEnd: `atalaya serve` with no set-up prints its URL and a
// first administrator; the administrator signs in, uploads a granule
// through the API, and the live feed reports it recorded, then processed
// by a worker; interrupting serve stops it cleanly.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	cmd := newRootCmd()
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"-q", "serve", "--data", dir, "--listen", "127.0.0.1:-1", "--http", "127.0.0.1:0",
		"--workers", "1", "--gas", "ammonia", "--far", "10/km2"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var url, password string
	urlRe := regexp.MustCompile(`atalaya serve: (http://127\.0\.0\.1:\d+) `)
	pwRe := regexp.MustCompile(`administrator "admin" with password (\S+) `)
	for deadline := time.Now().Add(30 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URL:\n%s", out.String())
		}
	}
	if m := pwRe.FindStringSubmatch(out.String()); m != nil {
		password = m[1]
	} else {
		t.Fatalf("no first administrator:\n%s", out.String())
	}
	if r, err := http.Get(url + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", r, err)
	}
	// The web map is there.
	if r, err := http.Get(url + "/"); err != nil || r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("web map: %v %v", r, err)
	}
	// Sign in.
	resp, err := http.Post(url+"/api/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"username":"admin","password":%q}`, password)))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 200 || len(cookies) == 0 || login.CSRF == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	withSession := func(req *http.Request) *http.Response {
		for _, c := range cookies {
			req.AddCookie(c)
		}
		req.Header.Set("X-CSRF-Token", login.CSRF)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The live feed.
	sreq, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/events", nil)
	sresp := withSession(sreq)
	if sresp.StatusCode != 200 {
		t.Fatalf("events: %d", sresp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(sresp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Upload in two parts.
	arc := granuleArchive(t)
	half := len(arc) / 2
	req, _ := http.NewRequest("POST", url+"/api/v1/granules?name=pass-1.tar", bytes.NewReader(arc[:half]))
	req.Header.Set("Upload-Length", strconv.Itoa(len(arc)))
	r := withSession(req)
	loc := r.Header.Get("Location")
	r.Body.Close()
	if r.StatusCode != 201 || loc == "" {
		t.Fatalf("upload start: %d", r.StatusCode)
	}
	req, _ = http.NewRequest("PATCH", url+loc, bytes.NewReader(arc[half:]))
	req.Header.Set("Upload-Offset", strconv.Itoa(half))
	r = withSession(req)
	var up struct {
		Granule struct {
			ID     string     `json:"id"`
			Status string     `json:"status"`
			BBox   [4]float64 `json:"bbox"`
		} `json:"granule"`
	}
	_ = json.NewDecoder(r.Body).Decode(&up)
	r.Body.Close()
	if r.StatusCode != 201 || up.Granule.ID == "" {
		t.Fatalf("upload end: %d %+v", r.StatusCode, up)
	}
	// The feed says recorded, then done.
	var states []string
	timeout := time.After(90 * time.Second)
	for len(states) == 0 || states[len(states)-1] != "done" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("feed ended after %v", states)
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, up.Granule.ID) {
				var g struct{ Status string }
				_ = json.Unmarshal([]byte(l[6:]), &g)
				states = append(states, g.Status)
			}
		case <-timeout:
			t.Fatalf("granule events %v: never done", states)
		}
	}
	if states[0] != "recorded" {
		t.Errorf("granule events %v", states)
	}
	// The pass is in the coverage the workers keep in the store.
	bb := up.Granule.BBox
	creq, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/coverage?gas=ammonia&bbox=%g,%g,%g,%g", url, bb[0], bb[1], bb[2], bb[3]), nil)
	cr := withSession(creq)
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Properties struct {
				Passes  int    `json:"passes_max"`
				Granule string `json:"last_granule"`
			} `json:"properties"`
		} `json:"features"`
	}
	_ = json.NewDecoder(cr.Body).Decode(&fc)
	cr.Body.Close()
	if cr.StatusCode != 200 || fc.Type != "FeatureCollection" || len(fc.Features) == 0 || fc.Features[0].Properties.Passes != 1 {
		t.Errorf("coverage: %d %+v", cr.StatusCode, fc)
	}
	// internal/feed's exports and OGC API are mounted in the real binary.
	for path, ctype := range map[string]string{
		"/api/v1/export/sites.kml":      "application/vnd.google-earth.kml+xml",
		"/api/v1/export/sites.geojson":  "application/geo+json",
		"/api/v1/ogc/conformance":       "application/json",
		"/api/v1/ogc/collections/sites": "application/json",
	} {
		req, _ := http.NewRequest("GET", url+path, nil)
		r := withSession(req)
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s: %d %s: %.200s", path, r.StatusCode, r.Header.Get("Content-Type"), b)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
