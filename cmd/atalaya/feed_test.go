package main

import (
	"context"
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
