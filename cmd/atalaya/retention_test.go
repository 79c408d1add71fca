package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A retention purge is in the audit log, in the purge's transaction, and
// the chain still verifies.
func TestRetentionPurgeIsAudited(t *testing.T) {
	ctx := context.Background()
	path := "sqlite:" + filepath.Join(t.TempDir(), "atalaya.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, _, err := db.PutGranule(ctx, store.Granule{Kind: store.KindCube, SHA256: strings.Repeat("ab", 32), Size: 1, URI: "file:///nonexistent/blob.tar", Populated: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartGranule(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompleteGranule(ctx, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	later, err := store.Open(ctx, path, store.Options{Now: func() time.Time { return time.Now().Add(store.DefaultRetention + time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close()
	rep, err := pipeline.PurgeOnce(ctx, later, store.DefaultRetention, nil, auditPurge(ctx, store.DefaultRetention))
	if err != nil || rep.Purged != 1 {
		t.Fatalf("purge: %+v, %v", rep, err)
	}
	es, err := db.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Action == "granules.purge" {
			var d struct{ Granules []string }
			if err := json.Unmarshal([]byte(e.Details), &d); err != nil || len(d.Granules) != 1 || d.Granules[0] != g.ID {
				t.Errorf("purge entry details %s (%v)", e.Details, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no granules.purge entry among %d audit entries", len(es))
	}
	if _, err := access.VerifyChain(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
}
