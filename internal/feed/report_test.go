package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/store"
)

// reportFixture stores a site in Bogotá seen on one pass and surveyed
// without a detection on another, confirmed and released to agency A.
func reportFixture(t *testing.T, st *store.DB) (*ReportSource, store.Site, []store.Granule, store.AuditEntry) {
	t.Helper()
	ctx := context.Background()
	putAgencies(t, st, "COLPNC", "A", "B")
	var gs []store.Granule
	for i := range 2 {
		g, _, err := st.PutGranule(ctx, store.Granule{Kind: store.KindCube, SHA256: fmt.Sprintf("%064x", 0xabc0+i), Name: fmt.Sprintf("pass-%d.hdr", i+1),
			Size: 1 << 20, URI: "file:///g", Footprint: store.BBox{MinLat: 4.6, MinLon: -74.09, MaxLat: 4.62, MaxLon: -74.07},
			Acquired: time.Date(2026, 3, 1+2*i, 15, 4, 5, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	ds, err := st.CompleteGranule(ctx, gs[0].ID, []store.Detection{{Gas: "ammonia", Method: "mf", Score: 9, PValue: 1e-7,
		Lat: 4.6097, Lon: -74.0817, UncertaintyM: 12, PeakPPMM: 830, MeanPPMM: 200, SigmaPPMM: 40, IMEKg: 0.3, RateKgH: 1.9, RateSigmaKgH: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompleteGranule(ctx, gs[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	site := newSite(t, st, 4.6097, -74.0817)
	if err := st.LinkDetections(ctx, site.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendDecision(ctx, store.Decision{SiteID: site.ID, Actor: "analyst-ana", Action: store.ActionConfirm, Reason: "plume matches ammonia on two bands"}); err != nil {
		t.Fatal(err)
	}
	release(t, st, site.ID, "COLPNC", "A")
	var audit store.AuditEntry
	err = st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendDecision(ctx, store.Decision{SiteID: site.ID, Actor: "analyst-ana", Action: store.ActionRelease, Reason: "for field check"}); err != nil {
			return err
		}
		audit, err = tx.AppendAudit(ctx, store.AuditEntry{At: time.Now(), ActorUser: "analyst-ana", ActorAgency: "COLPNC", Action: access.AuditSiteRelease,
			ObjectType: "site", ObjectID: site.ID, Details: `{"release_to":["A"]}`}, access.HashEntry)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	site, _ = st.Site(ctx, site.ID)
	img, _ := testImages(ctx, site.ID)
	ev := Evidence{
		Passes: []EvidencePass{
			{GranuleID: gs[0].ID, Time: gs[0].Acquired, Seen: true, PlumePNG: img[0].PNG},
			{GranuleID: gs[1].ID, Time: gs[1].Acquired, Seen: false, MDLKgH: 0.42},
		},
		Spectrum: &Spectrum{Gas: "ammonia", WavelengthUM: []float64{10.2, 10.4, 10.6, 10.8}, Measured: []float64{0.1, 0.8, 0.3, 0.05}, Library: []float64{0.12, 0.75, 0.28, 0.04}},
		Trace:    &Trace{T: []float64{0, 1, 2, 3}, PPM: []float64{2, 9, 4, 2}, Fit: []float64{2.2, 8.5, 4.1, 2.1}},
	}
	rs := &ReportSource{Store: st, Catalog: &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))},
		Evidence: func(context.Context, string) (Evidence, error) { return ev, nil },
		Now:      func() time.Time { return time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC) }}
	return rs, site, gs, audit
}

// pdfText extracts a PDF's text with poppler's pdftotext.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", f, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// The report, read back by poppler's pdftotext, says in the agency's
// language where the site is (country and state from Natural Earth), what
// each pass saw (and the minimum detectable rate where it saw nothing), the
// decisions with who and when, and the SHA-256 of every source granule and
// of the audit entry that released the site; its metadata carries the same
// as a manifest; the same report writes the same bytes.
func TestReport(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	rs, site, gs, audit := reportFixture(t, st)
	ctx := context.Background()
	_, state, _, ok := boundaries.StateAt(site.Lat, site.Lon)
	if !ok {
		t.Fatal("no state at the site")
	}
	for _, tc := range []struct{ lang, title, country, seen, decisions, muni string }{
		{"es", "Informe de evidencia del sitio", "Colombia", "¿Detectado?", "6. Decisiones", "Municipio no determinado (sin límites municipales cargados)"},
		{"en", "Site evidence report", "Colombia", "Seen?", "6. Decisions", "Municipality not determined (no municipal boundaries loaded)"},
		{"pt", "Relatório de evidências do local", "Colombia", "Detectado?", "6. Decisões", "Município não determinado (sem limites municipais carregados)"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			p := access.Principal{UserID: "u-a", AgencyID: "A", Role: access.RolePartner, Lang: tc.lang}
			r, err := rs.BuildReport(ctx, p, site.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			var a, b bytes.Buffer
			if err := WriteReport(&a, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteReport(&b, r); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("the same report wrote different bytes")
			}
			text := pdfText(t, a.Bytes())
			flat := strings.Join(strings.Fields(text), " ")
			for _, want := range []string{tc.title, tc.country, state, tc.seen, tc.decisions, tc.muni, boundaries.NaturalEarthAdmin1,
				"4.609700, -74.081700", "analyst-ana", "plume matches ammonia", "0.42", gs[0].SHA256, gs[1].SHA256, audit.Hash,
				"atalaya audit verify --report"} {
				if !strings.Contains(flat, want) {
					t.Errorf("report text lacks %q:\n%s", want, text)
				}
			}
			man, err := ReadReportManifest(a.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if man.Site != site.ID || man.Lang != tc.lang || man.Agency != "A" || len(man.Granules) != 2 ||
				man.Release == nil || man.Release.Hash != audit.Hash || man.Release.Seq != audit.Seq {
				t.Fatalf("manifest %+v", man)
			}
			info, err := exec.Command("pdfinfo", writeTemp(t, a.Bytes())).CombinedOutput()
			if err != nil || !strings.Contains(string(info), "Pages:") || !strings.Contains(string(info), manifestTag) {
				t.Fatalf("pdfinfo: %v\n%s", err, info)
			}
		})
	}
	// B may not see the site: no report.
	_, err := rs.BuildReport(ctx, access.Principal{AgencyID: "B", Role: access.RolePartner}, site.ID, "en")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("report for an agency the site was not released to: %v, want ErrNotFound", err)
	}
	if _, err := ReadReportManifest([]byte("%PDF-1.4 not ours")); !errors.Is(err, ErrNoManifest) {
		t.Fatalf("manifest of a foreign file: %v", err)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "f.pdf")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDMS(t *testing.T) {
	// 4.6097° = 4° 36' 34.9"; -74.0817° = 74° 04' 54.1" W.
	if got := dms(4.6097, -74.0817); got != `4°36'34.9"N 74°04'54.1"W` {
		t.Fatalf("dms = %s", got)
	}
	_ = math.Pi
}

// A recorded report verifies; one byte changed, or a source granule
// changed in the store, or the record of its generation missing, does not.
func TestVerifyReport(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, _ string) {
		ctx := context.Background()
		rs, site, _, _ := reportFixture(t, st)
		p := access.Principal{UserID: "u-a", AgencyID: "A", Role: access.RolePartner, Lang: "es"}
		r, err := rs.BuildReport(ctx, p, site.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteReport(&b, r); err != nil {
			t.Fatal(err)
		}
		pdf := b.Bytes()
		if _, err := VerifyReport(ctx, st, pdf, nil); !errors.Is(err, ErrReport) || !strings.Contains(err.Error(), "no audit entry records") {
			t.Fatalf("verify before the report was recorded: %v", err)
		}
		rec, err := RecordReport(ctx, st, p, pdf)
		if err != nil {
			t.Fatal(err)
		}
		c, err := VerifyReport(ctx, st, pdf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Issued.Seq != rec.Seq || c.Manifest.Site != site.ID || c.Chain.Entries < 2 {
			t.Fatalf("check %+v", c)
		}
		// One byte of the page content changed (a digit of the text).
		bad := bytes.Clone(pdf)
		i := bytes.LastIndex(bad, []byte("endstream"))
		bad[i-10] ^= 1
		if _, err := VerifyReport(ctx, st, bad, nil); !errors.Is(err, ErrReport) {
			t.Fatalf("verify an altered file: %v", err)
		}
		// A source granule's recorded hash no longer matches: simulate with
		// a report naming a granule whose hash differs.
		r.Granules[0].SHA256 = strings.Repeat("0", 64)
		var b2 bytes.Buffer
		if err := WriteReport(&b2, r); err != nil {
			t.Fatal(err)
		}
		if _, err := RecordReport(ctx, st, p, b2.Bytes()); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyReport(ctx, st, b2.Bytes(), nil); !errors.Is(err, ErrReport) || !strings.Contains(err.Error(), r.Granules[0].ID) {
			t.Fatalf("verify a report whose granule hash differs from the store: %v", err)
		}
	})
}

func FuzzReadReportManifest(f *testing.F) {
	var b bytes.Buffer
	r := Report{Site: Site{ID: "s1", Status: "released"}, Lang: "es", Generated: time.Unix(1767225600, 0),
		Granules: []GranuleRef{{ID: "g1", SHA256: strings.Repeat("ab", 32)}}, Release: &AuditRef{Seq: 3, Hash: strings.Repeat("cd", 32)}}
	if err := WriteReport(&b, r); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("/Keywords (atalaya-report-v1 e30=)"))
	f.Add([]byte("/Keywords (atalaya-report-v1 !!!)"))
	f.Fuzz(func(t *testing.T, pdf []byte) {
		m, err := ReadReportManifest(pdf)
		if err != nil {
			if !errors.Is(err, ErrNoManifest) {
				t.Fatalf("error %v is not ErrNoManifest", err)
			}
			return
		}
		if m.V != 1 || m.Site == "" {
			t.Fatalf("accepted manifest %+v", m)
		}
	})
}

// The report over HTTP: for a partner the site was released to, a PDF that
// verifies (its generation recorded before it was sent); 404 for others.
func TestReportHandler(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	rs, site, _, _ := reportFixture(t, st)
	srv := httptest.NewServer(ReportHandler(HandlerConfig{Catalog: rs.Catalog, Principal: testPrincipal}, rs, st))
	defer srv.Close()
	get := func(agency, q string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sites/"+site.ID+"/report.pdf"+q, nil)
		req.Header.Set(agencyHeader, agency)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, pdf := get("A", "?lang=pt")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || resp.Header.Get("X-Atalaya-Report-Sha256") != ReportSHA256(pdf) {
		t.Fatalf("GET report as A: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(pdfText(t, pdf), "Relatório de evidências do local") {
		t.Fatal("the report is not in Portuguese")
	}
	if _, err := VerifyReport(context.Background(), st, pdf, nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("B", ""); resp.StatusCode != 404 {
		t.Fatalf("GET report as B: %d, want 404", resp.StatusCode)
	}
	if resp, b := get("A", "?lang=fr"); resp.StatusCode != 400 || !strings.Contains(string(b), `"field":"lang"`) {
		t.Fatalf("GET report in French: %d %s", resp.StatusCode, b)
	}
}

// Without an evidence source, the report takes what the workers stored
// with the detections: the plume image drawn at processing time, the
// spectrum and the trace from the detections' properties; and it draws
// them into the PDF.
func TestReportStoredEvidence(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	putAgencies(t, st, "COLPNC")
	g, _, err := st.PutGranule(ctx, store.Granule{Kind: store.KindCube, SHA256: fmt.Sprintf("%064x", 0xdef), Name: "pass.hdr",
		Size: 1, URI: "file:///g", Footprint: store.BBox{MinLat: 4.6, MinLon: -74.09, MaxLat: 4.62, MaxLon: -74.07},
		Acquired: time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := testImages(ctx, "x")
	props := `{"spectrum":{"gas":"ammonia","wavelength_um":[10.2,10.4,10.6],"measured":[0.1,0.8,0.3],"library":[0.12,0.75,0.28]},"plume_crop":[0,0,8,8]}`
	ds, err := st.CompleteGranule(ctx, g.ID, []store.Detection{
		{Gas: "ammonia", Method: "mf", Score: 9, PValue: 1e-7, Lat: 4.6097, Lon: -74.0817, UncertaintyM: 12, PeakPPMM: 830,
			Properties: props, PlumePNG: string(img[0].PNG)},
		{Gas: "ammonia", Method: "sniff", Score: 40, Lat: 4.6097, Lon: -74.0817, UncertaintyM: 12,
			Properties: `{"kind":"point","trace":{"t":[0,1,2,3],"ppm":[2,9,4,2],"fit":[2.2,8.5,4.1,2.1]}}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	site := newSite(t, st, 4.6097, -74.0817)
	if err := st.LinkDetections(ctx, site.ID, ds[0].ID, ds[1].ID); err != nil {
		t.Fatal(err)
	}
	rs := &ReportSource{Store: st, Catalog: &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))},
		Now: func() time.Time { return time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC) }}
	p := access.Principal{UserID: "u", AgencyID: "COLPNC", Role: access.RoleAnalyst, Lang: "en"}
	r, err := rs.BuildReport(ctx, p, site.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	ev := r.Evidence
	if len(ev.Passes) != 1 || !bytes.Equal(ev.Passes[0].PlumePNG, img[0].PNG) {
		t.Fatalf("passes %+v: want the one pass with the stored plume image", ev.Passes)
	}
	if ev.Spectrum == nil || ev.Spectrum.Gas != "ammonia" || len(ev.Spectrum.Measured) != 3 || ev.Spectrum.Library[1] != 0.75 {
		t.Fatalf("spectrum %+v", ev.Spectrum)
	}
	if ev.Trace == nil || len(ev.Trace.T) != 4 || ev.Trace.Fit[1] != 8.5 {
		t.Fatalf("trace %+v", ev.Trace)
	}
	var pdf bytes.Buffer
	if err := WriteReport(&pdf, r); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf.Bytes())
	for _, want := range []string{"Measured spectrum and library signature", "Plume"} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
}

// A site placed inside a known county: with North Carolina's counties
// (US Census boundaries from Debian's r-cran-sf, converted by GDAL)
// imported into the store, the report names the county, its FIPS code and
// the data set, in each language; a site outside them is "not determined:
// outside the municipal boundaries loaded", never silently blank.
func TestReportNamesCounty(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, _ string) {
		ctx := context.Background()
		gj := filepath.Join(t.TempDir(), "nc.geojson")
		if out, err := exec.Command("ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", gj, "/usr/lib/R/site-library/sf/shape/nc.shp").CombinedOutput(); err != nil {
			t.Fatalf("ogr2ogr (install gdal-bin and r-cran-sf: scripts/test.sh does): %v\n%s", err, out)
		}
		f, err := os.Open(gj)
		if err != nil {
			t.Fatal(err)
		}
		as, err := boundaries.ReadAreas(f, boundaries.Fields{Name: "NAME", Code: "FIPS"})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sa, err := boundaries.StoreAreas(as)
		if err != nil {
			t.Fatal(err)
		}
		const source = "US Census counties (R sf nc.shp)"
		if _, err := st.ImportAdminAreas(ctx, store.LevelMunicipality, source, sa); err != nil {
			t.Fatal(err)
		}
		putAgencies(t, st, "USA-DEA")
		rs := &ReportSource{Store: st, Catalog: &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("USA-DEA"))},
			Now: func() time.Time { return time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC) }}
		durham := newSite(t, st, 35.994, -78.8986) // downtown Durham, NC
		atSea := newSite(t, st, 34.5, -75.0)       // the Atlantic off Cape Hatteras
		bogota := newSite(t, st, 4.6097, -74.0817) // outside the counties loaded
		// Every language, with the server's in-memory locator and with the
		// one-off lookups a command-line report makes (Places nil).
		for i, tc := range []struct{ lang, muni, outside, sea string }{
			{"es", "Municipio Durham (37063) · fuente: " + source, "Municipio no determinado: fuera de los límites municipales cargados (" + source + ")", "ninguno (en el mar"},
			{"en", "Municipality Durham (37063) · source: " + source, "Municipality not determined: outside the municipal boundaries loaded (" + source + ")", "none (at sea"},
			{"pt", "Município Durham (37063) · fonte: " + source, "Município não determinado: fora dos limites municipais carregados (" + source + ")", "nenhum (no mar"},
		} {
			rs.Places = nil
			if i%2 == 1 {
				rs.Places = boundaries.NewLocator(st)
			}
			p := access.Principal{UserID: "u", AgencyID: "USA-DEA", Role: access.RoleAnalyst, Lang: tc.lang}
			text := func(site store.Site) string {
				r, err := rs.BuildReport(ctx, p, site.ID, "")
				if err != nil {
					t.Fatal(err)
				}
				var a, b bytes.Buffer
				if err := WriteReport(&a, r); err != nil {
					t.Fatal(err)
				}
				if err := WriteReport(&b, r); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatal("the same report wrote different bytes")
				}
				return strings.Join(strings.Fields(pdfText(t, a.Bytes())), " ")
			}
			if got := text(durham); !strings.Contains(got, tc.muni) || !strings.Contains(got, "United States of America (USA)") ||
				!strings.Contains(got, boundaries.NaturalEarthAdmin0) {
				t.Errorf("%s: the Durham report lacks %q:\n%s", tc.lang, tc.muni, got)
			}
			if got := text(bogota); !strings.Contains(got, tc.outside) || !strings.Contains(got, "Colombia") {
				t.Errorf("%s: the Bogotá report lacks %q:\n%s", tc.lang, tc.outside, got)
			}
			if got := text(atSea); !strings.Contains(got, tc.sea) || !strings.Contains(got, tc.outside) {
				t.Errorf("%s: the report at sea lacks %q:\n%s", tc.lang, tc.sea, got)
			}
		}
	})
}
