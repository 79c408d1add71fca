package access

import (
	"path/filepath"
	"testing"

	"github.com/atalaya-project/atalaya/internal/store"
)

func BenchmarkHashEntry(b *testing.B) {
	e := store.AuditEntry{Seq: 123456, ActorUser: "019ca9450a0015b23ee983c1c056c62c", ActorAgency: "COL-DIRAN",
		Action: "site.release", ObjectType: "site", ObjectID: "019ca9450a0015b23ee983c1c056c62d",
		Details:  `{"owner":"COL-DIRAN","to":["PER-DIRANDRO","USA-DEA"]}`,
		PrevHash: "948bb3c0f239583252df4cf0f51deaecc577f84cdf7a72139824236a1d7e7620"}
	b.ReportAllocs()
	for b.Loop() {
		HashEntry(e)
	}
}

// BenchmarkVerifyChain walks a 20 000-entry log in SQLite; entries/s is
// the figure docs/access.md quotes.
func BenchmarkVerifyChain(b *testing.B) {
	const n = 20000
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	err = st.InTx(ctx, func(tx store.Tx) error {
		p := Principal{UserID: "019ca9450a0015b23ee983c1c056c62c", AgencyID: "COL-DIRAN", Role: RoleAnalyst}
		for i := 0; i < n; i++ {
			if _, err := Record(ctx, tx, Event{Actor: p, Action: AuditRead, ObjectType: "site",
				ObjectID: "019ca9450a0015b23ee983c1c056c62d", Details: map[string]int{"i": i}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := VerifyChain(ctx, st, nil)
		if err != nil || v.Entries != n {
			b.Fatal(v, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
}
