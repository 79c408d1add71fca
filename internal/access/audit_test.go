package access

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// TestHashEntryVector pins the canonical encoding documented in
// docs/access.md: the digest below is SHA-256 of the bytes spelled out
// there for this entry, worked by hand (printf … | sha256sum):
//
//	printf 'atalaya-audit-v1\0\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x07\0\0\0\x02u1\0\0\0\x01A\0\0\0\x04read\0\0\0\x04site\0\0\0\x02s9\0\0\0\x02{}\0\0\0\x03abc' | sha256sum
func TestHashEntryVector(t *testing.T) {
	e := store.AuditEntry{Seq: 2, At: time.UnixMicro(7), ActorUser: "u1", ActorAgency: "A", Action: "read",
		ObjectType: "site", ObjectID: "s9", Details: "{}", PrevHash: "abc"}
	const want = "948bb3c0f239583252df4cf0f51deaecc577f84cdf7a72139824236a1d7e7620"
	if got := HashEntry(e); got != want {
		t.Fatalf("HashEntry = %s, want %s", got, want)
	}
	// Moving a byte between fields changes the hash (length prefixes).
	e2 := e
	e2.ActorUser, e2.ActorAgency = "u1A", ""
	if HashEntry(e2) == HashEntry(e) {
		t.Fatal("fields are not delimited")
	}
}

// chain appends n entries through the Service's own writes and reads.
func chain(t *testing.T, d *db, n int) []store.AuditEntry {
	t.Helper()
	s := d.service()
	p := Principal{UserID: "u1", AgencyID: "COL-DIRAN", Role: RoleAnalyst}
	for i := 0; i < n; i++ {
		d.clock.Advance(time.Second)
		if err := s.RecordRead(ctx, p, "site", fmt.Sprintf("site-%02d", i), map[string]any{"i": i, "note": `it's "quoted"; --`}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := d.AuditEntries(ctx, 0, 0)
	if err != nil || len(es) != n {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	return es
}

// dropTriggers is what someone with the database's owner rights does
// first: the triggers refuse UPDATE and DELETE otherwise (tested in
// internal/store).
func dropTriggers(t *testing.T, d *db) {
	t.Helper()
	if d.Dialect() == "sqlite" {
		for _, tr := range []string{"audit_log_no_update", "audit_log_no_delete", "audit_head_forward", "audit_head_no_delete"} {
			d.exec(t, "DROP TRIGGER "+tr)
		}
		return
	}
	d.exec(t, "DROP TRIGGER audit_log_no_change ON audit_log")
	d.exec(t, "DROP TRIGGER audit_head_move ON audit_head")
}

func wantChainError(t *testing.T, err error, seq int64, reason string) {
	t.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChain) {
		t.Fatalf("error %v, want a ChainError", err)
	}
	if ce.Seq != seq || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("ChainError at %d (%s), want %d (%q)", ce.Seq, ce.Reason, seq, reason)
	}
}

func TestVerifyChainTampering(t *testing.T) {
	const n = 10
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *db, es []store.AuditEntry)
		cp     bool // verify against a checkpoint taken before tampering
		seq    int64
		reason string
	}{
		{"edit a row's details", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `UPDATE audit_log SET details = '{"i":4,"note":"nothing to see"}' WHERE seq = 5`)
		}, false, 5, "hash does not match its content"},
		{"edit a row and recompute its hash", func(t *testing.T, d *db, es []store.AuditEntry) {
			e := es[4]
			e.ObjectID = "another-site"
			d.exec(t, `UPDATE audit_log SET object_id = 'another-site', hash = '`+HashEntry(e)+`' WHERE seq = 5`)
		}, false, 6, "prev_hash does not match entry 5"},
		{"edit the actor", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `UPDATE audit_log SET actor_user = 'someone-else' WHERE seq = 1`)
		}, false, 1, "hash does not match"},
		{"delete a middle row", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `DELETE FROM audit_log WHERE seq = 5`)
		}, false, 5, "missing"},
		{"delete a middle row and renumber", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `DELETE FROM audit_log WHERE seq = 5`)
			for s := 6; s <= n; s++ {
				d.exec(t, fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = %d`, s-1, s))
			}
		}, false, 5, "prev_hash does not match entry 4"},
		{"truncate the tail", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `DELETE FROM audit_log WHERE seq > 7`)
		}, false, 8, "tail truncated"},
		{"truncate the tail and rewind the head", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `DELETE FROM audit_log WHERE seq > 7`)
			d.exec(t, `UPDATE audit_head SET seq = 7, hash = '`+es[6].Hash+`'`)
		}, true, 8, "checkpoint"},
		{"rewrite the whole tail consistently", func(t *testing.T, d *db, es []store.AuditEntry) {
			// The most an owner of the database can do: change entry 3 and
			// recompute every hash after it, and the head.
			prev := es[1].Hash
			for i := 2; i < n; i++ {
				e := es[i]
				if i == 2 {
					e.ObjectID = "forged"
				}
				e.PrevHash = prev
				e.Hash = HashEntry(e)
				d.exec(t, fmt.Sprintf(`UPDATE audit_log SET object_id = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`, e.ObjectID, e.PrevHash, e.Hash, e.Seq))
				prev = e.Hash
			}
			d.exec(t, `UPDATE audit_head SET hash = '`+prev+`'`)
		}, true, n, "differs from the checkpoint"},
		{"swap two rows (reorder)", func(t *testing.T, d *db, es []store.AuditEntry) {
			d.exec(t, `UPDATE audit_log SET seq = -3 WHERE seq = 3`)
			d.exec(t, `UPDATE audit_log SET seq = 3 WHERE seq = 4`)
			d.exec(t, `UPDATE audit_log SET seq = 4 WHERE seq = -3`)
		}, false, 3, "prev_hash does not match entry 2"},
		{"insert a row", func(t *testing.T, d *db, es []store.AuditEntry) {
			for s := n; s >= 6; s-- {
				d.exec(t, fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = %d`, s+1, s))
			}
			e := store.AuditEntry{Seq: 6, At: es[4].At, ActorUser: "u9", Action: "read", PrevHash: es[4].Hash}
			e.Hash = HashEntry(e)
			d.exec(t, fmt.Sprintf(`INSERT INTO audit_log (seq, at_us, actor_user, actor_agency, action, object_type, object_id, details, prev_hash, hash)
				VALUES (6, %d, 'u9', '', 'read', '', '', '', '%s', '%s')`, e.At.UnixMicro(), e.PrevHash, e.Hash))
		}, false, 7, "prev_hash does not match entry 6"},
		{"append around the head", func(t *testing.T, d *db, es []store.AuditEntry) {
			e := store.AuditEntry{Seq: n + 1, At: es[n-1].At, Action: "read", PrevHash: es[n-1].Hash}
			e.Hash = HashEntry(e)
			d.exec(t, fmt.Sprintf(`INSERT INTO audit_log (seq, at_us, actor_user, actor_agency, action, object_type, object_id, details, prev_hash, hash)
				VALUES (%d, %d, '', '', 'read', '', '', '', '%s', '%s')`, e.Seq, e.At.UnixMicro(), e.PrevHash, e.Hash))
		}, false, n + 1, "after the head"},
	}
	both(t, func(t *testing.T, d0 *db) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				var d *db
				if d0.Dialect() == "sqlite" {
					path := t.TempDir() + "/a.db"
					d = open(t, "sqlite:"+path, "sqlite", path)
				} else {
					u := storetest.PostgresSchemaURL(t)
					d = open(t, u, "pgx", u)
				}
				es := chain(t, d, n)
				v, err := VerifyChain(ctx, d, nil)
				if err != nil || v.Entries != n || v.Head.Seq != n || v.Head.Hash != es[n-1].Hash {
					t.Fatalf("untouched chain: %+v %v", v, err)
				}
				cp, err := TakeCheckpoint(ctx, d, d.clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				dropTriggers(t, d)
				c.tamper(t, d, es)
				var cpp *Checkpoint
				if c.cp {
					// Without the checkpoint the chain looks whole: the
					// limit documented in docs/access.md.
					if _, err := VerifyChain(ctx, d, nil); err != nil {
						t.Fatalf("without a checkpoint: %v (expected to pass: nothing in the database shows it)", err)
					}
					cpp = &cp
				}
				_, err = VerifyChain(ctx, d, cpp)
				wantChainError(t, err, c.seq, c.reason)
			})
		}
	})
}

func TestVerifyEmptyAndGrowing(t *testing.T) {
	both(t, func(t *testing.T, d *db) {
		v, err := VerifyChain(ctx, d, nil)
		if err != nil || v.Entries != 0 || v.Head.Seq != 0 {
			t.Fatalf("empty log: %+v %v", v, err)
		}
		cp, _ := TakeCheckpoint(ctx, d, d.clock.Now())
		// More than a page, in one transaction (quicker than one each).
		err = d.InTx(ctx, func(tx store.Tx) error {
			for i := 0; i < verifyPage+5; i++ {
				if _, err := Record(ctx, tx, Event{Action: AuditRead, ObjectID: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		es, _ := d.AuditEntries(ctx, 0, 0)
		cp2, _ := TakeCheckpoint(ctx, d, d.clock.Now())
		for _, c := range []*Checkpoint{nil, &cp, &cp2} {
			v, err = VerifyChain(ctx, d, c)
			if err != nil || v.Entries != int64(len(es)) {
				t.Fatalf("checkpoint %+v: %+v %v", c, v, err)
			}
		}
		if cp2.Seq != int64(len(es)) || cp2.Hash != es[len(es)-1].Hash {
			t.Fatalf("checkpoint %+v", cp2)
		}
	})
}
