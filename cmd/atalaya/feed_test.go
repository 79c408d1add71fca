package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

func TestFeedWebhookAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	out, err := run(t, "feed", "webhook", "add", "--db", dbURL, "--agency", "PNC", "--url", "https://pnc.example/hook")
	if err != nil || !strings.Contains(out, "secret (shown once") || !strings.Contains(out, "whsec_") {
		t.Fatalf("webhook add: %q, %v", out, err)
	}
	if _, err := run(t, "feed", "webhook", "add", "--db", dbURL, "--agency", "PNC", "--url", "ftp://x"); err == nil ||
		!strings.Contains(err.Error(), "want an absolute http:// or https:// URL") {
		t.Fatalf("webhook add with an ftp URL: %v", err)
	}
	out, err = run(t, "feed", "webhook", "list", "--db", dbURL)
	if err != nil || !strings.Contains(out, "https://pnc.example/hook") {
		t.Fatalf("webhook list: %q, %v", out, err)
	}
	// A dead letter, made through the store.
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _ := db.Webhooks(ctx)
	sink := "webhook:" + hooks[0].ID
	a, err := db.EnqueueAlert(ctx, store.Alert{Kind: "site.released", Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.FanOut(ctx, a.ID, []string{sink}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimDeliveries(ctx, sink, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.KillDelivery(ctx, sink, a.ID, "HTTP 410 Gone"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = run(t, "feed", "dead-letters", "list", "--db", dbURL)
	if err != nil || !strings.Contains(out, a.ID) || !strings.Contains(out, "HTTP 410 Gone") || !strings.Contains(out, sink) {
		t.Fatalf("dead-letters list: %q, %v", out, err)
	}
	if _, err := run(t, "feed", "dead-letters", "replay", "--db", dbURL); err == nil || !strings.Contains(err.Error(), "say what to replay") {
		t.Fatalf("replay without a choice: %v", err)
	}
	if _, err := run(t, "feed", "dead-letters", "replay", "--db", dbURL, "--alert", a.ID); err == nil || !strings.Contains(err.Error(), "--alert needs --sink") {
		t.Fatalf("replay --alert without --sink: %v", err)
	}
	out, err = run(t, "feed", "dead-letters", "replay", "--db", dbURL, "--sink", sink, "--alert", a.ID)
	if err != nil || !strings.Contains(out, "1 dead letters queued again") {
		t.Fatalf("replay: %q, %v", out, err)
	}
	out, err = run(t, "feed", "webhook", "remove", "--db", dbURL, hooks[0].ID)
	if err != nil || !strings.Contains(out, "1 queued alerts dropped") {
		t.Fatalf("webhook remove: %q, %v", out, err)
	}
}

func TestReportThenVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "a.db")
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.Agency{{ID: "COLPNC", Name: "Policía Nacional", Country: "COL", Lang: "es", Host: true}, {ID: "A", Name: "Agency A", Country: "USA", Lang: "en"}} {
		if _, err := db.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	s, err := db.CreateSite(ctx, store.Site{Lat: 4.6097, Lon: -74.0817, Status: store.SiteReleased})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReleaseSite(ctx, store.Release{SiteID: s.ID, AgencyID: "A", ReleasedBy: "ana"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	pdf := filepath.Join(dir, "r.pdf")
	out, err := run(t, "report", "--db", dbURL, "--site", s.ID, "--agency", "A", "--out", pdf)
	if err != nil || !strings.Contains(out, "SHA-256") {
		t.Fatalf("report: %q, %v", out, err)
	}
	out, err = run(t, "report", "verify", "--db", dbURL, pdf)
	if err != nil || !strings.Contains(out, "unaltered") {
		t.Fatalf("report verify: %q, %v", out, err)
	}
	out, err = run(t, "audit", "verify", "--db", dbURL, "--report", pdf)
	if err != nil || !strings.Contains(out, "audit log intact") || !strings.Contains(out, "unaltered") {
		t.Fatalf("audit verify --report: %q, %v", out, err)
	}
	b, _ := os.ReadFile(pdf)
	b = append(b, '\n')
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "report", "verify", "--db", dbURL, pdf); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("report verify of an altered file: %v", err)
	}
	if _, err := run(t, "audit", "verify", "--db", dbURL, "--report", pdf); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("audit verify --report of an altered file: %v", err)
	}
	if _, err := run(t, "report", "--db", dbURL, "--site", s.ID, "--agency", "COLPNC", "--out", filepath.Join(dir, "x.pdf")); err != nil {
		t.Fatalf("report for the owner: %v", err)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "a.db")
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.Agency{{ID: "COLPNC", Name: "PNC", Country: "COL", Lang: "es", Host: true}, {ID: "A", Name: "A", Country: "USA", Lang: "en"}, {ID: "B", Name: "B", Country: "PER", Lang: "es"}} {
		if _, err := db.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i, to := range []string{"A", "B"} {
		s, err := db.CreateSite(ctx, store.Site{Lat: 4.6 + 0.01*float64(i), Lon: -74.08, Status: store.SiteReleased})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReleaseSite(ctx, store.Release{SiteID: s.ID, AgencyID: to, ReleasedBy: "ana"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	db.Close()
	for _, f := range []string{"geojson", "kml", "kmz"} {
		out := filepath.Join(dir, "a."+f)
		if msg, err := run(t, "export", "--db", dbURL, "--agency", "A", "--format", f, "--out", out); err != nil || !strings.Contains(msg, "wrote 1 sites") {
			t.Fatalf("export %s: %q, %v", f, msg, err)
		}
		b, _ := os.ReadFile(out)
		if f != "kmz" && (!strings.Contains(string(b), ids[0]) || strings.Contains(string(b), ids[1])) {
			t.Fatalf("A's %s export:\n%s", f, b)
		}
	}
	if msg, err := run(t, "export", "--db", dbURL, "--agency", "COLPNC", "--out", filepath.Join(dir, "o.geojson")); err != nil || !strings.Contains(msg, "wrote 2 sites") {
		t.Fatalf("owner's export: %q, %v", msg, err)
	}
	if _, err := run(t, "export", "--db", dbURL, "--agency", "A", "--format", "shp", "--out", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "want geojson, kml or kmz") {
		t.Fatalf("export --format shp: %v", err)
	}
}
