package server

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/feed"
)

// releaseCOL confirms and releases COL's site to agUSA through the API.
func (e *env) releaseCOL(t *testing.T) {
	t.Helper()
	analyst := e.tok(access.RoleAnalyst, agCOL)
	path := "/api/v1/sites/" + e.siteCOL.ID + "/decisions"
	for i, body := range []string{`{"action":"confirm"}`, `{"action":"release","release_to":["` + agUSA + `"]}`} {
		resp := e.do("POST", path, analyst, strings.NewReader(body), "If-Match", etag(int64(i+1)))
		if b := read(t, resp); resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
}

// siteIDsOf returns the ids of a GeoJSON FeatureCollection's features.
func siteIDsOf(t *testing.T, b []byte) []string {
	t.Helper()
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			ID         string `json:"id"`
			Properties struct {
				ID string `json:"id"`
			} `json:"properties"`
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil || fc.Type != "FeatureCollection" {
		t.Fatalf("not a FeatureCollection (%v): %.300s", err, b)
	}
	ids := []string{}
	for _, f := range fc.Features {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

// kmlSiteIDs returns the site ids of a KML document's placemarks (their
// ExtendedData's id field).
func kmlSiteIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var doc struct {
		Placemarks []struct {
			Data []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value"`
			} `xml:"ExtendedData>Data"`
		} `xml:"Document>Placemark"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("KML: %v: %.300s", err, b)
	}
	ids := []string{}
	for _, p := range doc.Placemarks {
		for _, d := range p.Data {
			if d.Name == "id" {
				ids = append(ids, d.Value)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// A partner of the agency a site was released to gets it from every feed
// route of the running server — GeoJSON, KML, KMZ, the OGC API items and
// item, the PDF report — and reports ground truth for it; a partner of
// another agency gets none of it (404, or lists without it) and stores
// nothing. Every export is in the audit log, with the caller.
func TestFeedRoutesReleasedSite(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		e.releaseCOL(t)
		id := e.siteCOL.ID
		usa, per := e.tok(access.RolePartner, agUSA), e.tok(access.RolePartner, agPER)
		want := map[string][]string{usa: {id}, per: {e.sitePER.ID}} // PER's partner sees PER's own site only

		for _, tok := range []string{usa, per} {
			resp := e.do("GET", "/api/v1/export/sites.geojson", tok, nil)
			b := read(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/geo+json" {
				t.Fatalf("geojson: %d %s", resp.StatusCode, b)
			}
			if got := siteIDsOf(t, b); !slices.Equal(got, want[tok]) {
				t.Errorf("geojson ids %v, want %v", got, want[tok])
			}
			resp = e.do("GET", "/api/v1/export/sites.kml", tok, nil)
			b = read(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.google-earth.kml+xml" {
				t.Fatalf("kml: %d %s", resp.StatusCode, b)
			}
			if got := kmlSiteIDs(t, b); !slices.Equal(got, want[tok]) {
				t.Errorf("kml ids %v, want %v", got, want[tok])
			}
			resp = e.do("GET", "/api/v1/export/sites.kmz", tok, nil)
			b = read(t, resp)
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if resp.StatusCode != 200 || err != nil || len(zr.File) == 0 || zr.File[0].Name != "doc.kml" {
				t.Fatalf("kmz: %d %v", resp.StatusCode, err)
			}
			f, _ := zr.File[0].Open()
			var kml bytes.Buffer
			_, _ = kml.ReadFrom(f)
			f.Close()
			if got := kmlSiteIDs(t, kml.Bytes()); !slices.Equal(got, want[tok]) {
				t.Errorf("kmz ids %v, want %v", got, want[tok])
			}
			resp = e.do("GET", "/api/v1/ogc/collections/sites/items", tok, nil)
			b = read(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("ogc items: %d %s", resp.StatusCode, b)
			}
			if got := siteIDsOf(t, b); !slices.Equal(got, want[tok]) {
				t.Errorf("ogc ids %v, want %v", got, want[tok])
			}
		}
		// The OGC landing page's links carry the mount point.
		for _, p := range []string{"/api/v1/ogc", "/api/v1/ogc/"} {
			resp := e.do("GET", p, usa, nil)
			b := read(t, resp)
			if resp.StatusCode != 200 || !strings.Contains(string(b), e.http.URL+"/api/v1/ogc/collections") {
				t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
			}
		}
		// One site: the OGC item and the report, for USA only.
		for _, p := range []string{"/api/v1/ogc/collections/sites/items/" + id, "/api/v1/sites/" + id + "/report.pdf?lang=en"} {
			resp := e.do("GET", p, usa, nil)
			b := read(t, resp)
			if resp.StatusCode != 200 {
				t.Errorf("USA partner GET %s: %d %.300s", p, resp.StatusCode, b)
			}
			if strings.HasSuffix(p, "lang=en") {
				if !bytes.HasPrefix(b, []byte("%PDF-")) || resp.Header.Get("X-Atalaya-Report-Sha256") != feed.ReportSHA256(b) {
					t.Errorf("report: not a PDF or wrong SHA-256 header")
				}
				man, err := feed.ReadReportManifest(b)
				if err != nil || man.Site != id || man.Lang != "en" || man.Agency != agUSA {
					t.Errorf("report manifest %+v, %v", man, err)
				}
			}
			resp = e.do("GET", p, per, nil)
			if b := read(t, resp); resp.StatusCode != http.StatusNotFound {
				t.Errorf("PER partner GET %s: %d %.200s, want 404", p, resp.StatusCode, b)
			}
		}

		// Ground truth: PER's partner is refused as for a missing site.
		before := e.snapshot()
		gt := `{"outcome":"confirmed-lab","note":"lab dismantled","visited_at":"2026-03-20T10:00:00Z"}`
		resp := e.do("POST", "/api/v1/sites/"+id+"/ground-truth", per, strings.NewReader(gt), "Content-Type", "application/json")
		if b := read(t, resp); resp.StatusCode != http.StatusNotFound {
			t.Errorf("PER ground truth: %d %s", resp.StatusCode, b)
		}
		e.unchanged(before, "PER's ground truth")
		resp = e.do("POST", "/api/v1/sites/"+id+"/ground-truth", usa, strings.NewReader(`{"outcome":"found-it"}`), "Content-Type", "application/json")
		if b := read(t, resp); resp.StatusCode != 400 || apiErrOf(t, b).Field != "outcome" {
			t.Errorf("bad outcome: %d %s", resp.StatusCode, b)
		}
		e.unchanged(before, "a bad outcome")
		resp = e.do("POST", "/api/v1/sites/"+id+"/ground-truth", usa, strings.NewReader(gt), "Content-Type", "application/json")
		var dec feed.Decision
		if b := read(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &dec) != nil || dec.Action != "ground-truth" {
			t.Fatalf("USA ground truth: %d %s", resp.StatusCode, b)
		}
		ds, err := e.st.Decisions(t0, id)
		if err != nil {
			t.Fatal(err)
		}
		last := ds[len(ds)-1]
		if last.ID != dec.ID || last.Actor != e.principal(access.RolePartner, agUSA).UserID ||
			!strings.Contains(last.Payload, `"outcome":"confirmed-lab"`) || !strings.Contains(last.Payload, `"via":"api"`) {
			t.Errorf("stored decision %+v", last)
		}
		// The owner hears of it: a site.updated alert in the outbox.
		alerts, err := e.st.ClaimOutbox(t0, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, a := range alerts {
			if a.SiteID == id {
				kinds = append(kinds, a.Kind)
			}
		}
		if !slices.Contains(kinds, feed.KindSiteUpdated) {
			t.Errorf("alerts of the site %v: no %s", kinds, feed.KindSiteUpdated)
		}

		// The audit log: every export, with the caller and the outcome.
		e.srv.cfg.Audit.(*BatchAuditor).Close()
		ents, err := e.st.AuditEntries(t0, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, en := range ents {
			if en.Action != string(access.Export) && en.Action != string(access.ReportGroundTruth) && en.Action != feed.ReportAuditAction {
				continue
			}
			var d struct {
				Path   string `json:"path"`
				Status int    `json:"status"`
			}
			_ = json.Unmarshal([]byte(en.Details), &d)
			k := fmt.Sprintf("%s %s %s %d", en.ActorAgency, en.Action, d.Path, d.Status)
			if en.Action == feed.ReportAuditAction {
				k = fmt.Sprintf("%s %s site/%s", en.ActorAgency, en.Action, en.ObjectID)
			}
			count[k]++
		}
		for _, k := range []string{
			agUSA + " sites:export /api/v1/export/sites.geojson 200",
			agUSA + " sites:export /api/v1/export/sites.kml 200",
			agUSA + " sites:export /api/v1/export/sites.kmz 200",
			agUSA + " sites:export /api/v1/ogc/collections/sites/items 200",
			agPER + " sites:export /api/v1/export/sites.geojson 200",
			agPER + " sites:export /api/v1/export/sites.kmz 200",
			agUSA + " sites:export /api/v1/sites/" + id + "/report.pdf 200",
			agUSA + " " + feed.ReportAuditAction + " site/" + id,
			agPER + " sites:export /api/v1/sites/" + id + "/report.pdf 0", // refused by the guard: no status
			agPER + " sites:ground-truth /api/v1/sites/" + id + "/ground-truth 0",
			agUSA + " sites:ground-truth /api/v1/sites/" + id + "/ground-truth 400",
			agUSA + " sites:ground-truth /api/v1/sites/" + id + "/ground-truth 201",
		} {
			if count[k] != 1 {
				t.Errorf("audit: %d entries %q, want 1", count[k], k)
			}
		}
	})
}

// GDAL's OAPIF driver (an OGC API – Features client nobody here wrote)
// reads the released site through the real server's route, authenticated
// with an API token; as PER's partner it finds no such site.
func TestOGCReadByGDALThroughServer(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	e.releaseCOL(t)
	run := func(tok string) (string, error) {
		out, err := exec.Command("ogrinfo", "-ro", "-al", "-q", "--config", "GDAL_HTTP_HEADERS", "Authorization: Bearer "+tok,
			"OAPIF:"+e.http.URL+"/api/v1/ogc", "sites").CombinedOutput()
		return string(out), err
	}
	out, err := run(e.tok(access.RolePartner, agUSA))
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	if !strings.Contains(out, e.siteCOL.ID) || !strings.Contains(out, "POINT (-74.1 4.6)") || strings.Contains(out, e.sitePER.ID) {
		t.Errorf("ogrinfo as USA's partner:\n%s", out)
	}
	out, err = run(e.tok(access.RolePartner, agPER))
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	if strings.Contains(out, e.siteCOL.ID) || !strings.Contains(out, e.sitePER.ID) {
		t.Errorf("ogrinfo as PER's partner:\n%s", out)
	}
	// Without the token GDAL gets nothing.
	cmd := exec.Command("ogrinfo", "-ro", "-al", "-q", "OAPIF:"+e.http.URL+"/api/v1/ogc", "sites")
	if out, err := cmd.CombinedOutput(); err == nil || strings.Contains(string(out), e.siteCOL.ID) {
		t.Errorf("ogrinfo without a token: %v\n%s", err, out)
	}
}
