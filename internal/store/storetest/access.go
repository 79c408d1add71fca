package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// The suite's part for package access's records.

// evil holds SQL and shell metacharacters; it must be stored verbatim.
// (No NUL: PostgreSQL text cannot hold one; package access refuses control
// characters in names.)
const evil = `O'Brien"; DROP TABLE users; -- ? $1 \ % _ ñ€ 名`

func agency(id, country string, host bool) store.Agency {
	return store.Agency{ID: id, Name: "Agency " + id, Country: country, Lang: "es", Host: host}
}

func testAgencies(t *testing.T, s store.Store, clock *Clock) {
	col := must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	if !col.Created.Equal(clock.Now()) {
		t.Fatalf("PutAgency: %+v", col)
	}
	must(s.PutAgency(ctx, agency("USA-DEA", "USA", false)))(t)
	must(s.PutAgency(ctx, agency("COL-FISCALIA", "COL", false)))(t) // a second, non-host agency in COL
	_, err := s.PutAgency(ctx, agency("COL-OTHER", "COL", true))
	wantErr(t, err, store.ErrConflict, "PutAgency(second host of COL)")
	_, err = s.PutAgency(ctx, agency("COL-DIRAN", "PER", false))
	wantErr(t, err, store.ErrConflict, "PutAgency(duplicate id)")
	a := agency("X", "COLO", false)
	_, err = s.PutAgency(ctx, a)
	wantErr(t, err, store.ErrInvalid, "PutAgency(country COLO)")
	a = agency("X", "COL", false)
	a.Lang = "fr"
	_, err = s.PutAgency(ctx, a)
	wantErr(t, err, store.ErrInvalid, "PutAgency(lang fr)")

	odd := agency(evil, "PER", true)
	odd.Name = evil
	must(s.PutAgency(ctx, odd))(t)
	got := must(s.Agency(ctx, evil))(t)
	if got.ID != evil || got.Name != evil || !got.Host {
		t.Fatalf("Agency(evil) = %+v", got)
	}
	host := must(s.HostAgency(ctx, "COL"))(t)
	if host != col {
		t.Fatalf("HostAgency(COL) = %+v, want %+v", host, col)
	}
	_, err = s.HostAgency(ctx, "USA")
	wantErr(t, err, store.ErrNotFound, "HostAgency(USA, none)")
	all := must(s.Agencies(ctx))(t)
	var idl []string
	for _, a := range all {
		idl = append(idl, a.ID)
	}
	if fmt.Sprint(idl) != fmt.Sprint([]string{"COL-DIRAN", "COL-FISCALIA", evil, "USA-DEA"}) {
		t.Fatalf("Agencies: %q", idl)
	}
}

func user(agencyID, name, role string) store.User {
	return store.User{AgencyID: agencyID, Username: name, Name: "User " + name, Role: role, Lang: "es",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
}

func testUsers(t *testing.T, s store.Store, clock *Clock) {
	must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	if n := must(s.CountUsers(ctx))(t); n != 0 {
		t.Fatalf("CountUsers = %d on an empty store", n)
	}
	u := must(s.CreateUser(ctx, user("COL-DIRAN", "ana", "analyst")))(t)
	if u.ID == "" || !u.Created.Equal(clock.Now()) || u.Disabled {
		t.Fatalf("CreateUser: %+v", u)
	}
	_, err := s.CreateUser(ctx, user("COL-DIRAN", "ana", "viewer"))
	wantErr(t, err, store.ErrConflict, "CreateUser(username taken)")
	_, err = s.CreateUser(ctx, user("NOPE", "bob", "viewer"))
	wantErr(t, err, store.ErrNotFound, "CreateUser(unknown agency)")
	_, err = s.CreateUser(ctx, user("COL-DIRAN", "bob", "root"))
	wantErr(t, err, store.ErrInvalid, "CreateUser(role root)")
	odd := user("COL-DIRAN", evil, "viewer")
	odd.Name = evil
	o := must(s.CreateUser(ctx, odd))(t)
	if got := must(s.UserByName(ctx, evil))(t); got != o || got.Name != evil {
		t.Fatalf("UserByName(evil) = %+v, want %+v", got, o)
	}
	if got := must(s.User(ctx, u.ID))(t); got != u {
		t.Fatalf("User = %+v, want %+v", got, u)
	}
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "UserByName(nobody)")

	clock.Advance(time.Minute)
	if err := s.SetPassword(ctx, u.ID, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	got := must(s.User(ctx, u.ID))(t)
	if got.PasswordHash != "$argon2id$new" || !got.Disabled || !got.Updated.Equal(clock.Now()) || !got.Created.Equal(u.Created) {
		t.Fatalf("after SetPassword, SetUserDisabled: %+v", got)
	}
	wantErr(t, s.SetPassword(ctx, "nope", "x"), store.ErrNotFound, "SetPassword(unknown user)")
	wantErr(t, s.SetUserDisabled(ctx, "nope", true), store.ErrNotFound, "SetUserDisabled(unknown user)")
	if n := must(s.CountUsers(ctx))(t); n != 2 {
		t.Fatalf("CountUsers = %d, want 2", n)
	}
	us := must(s.Users(ctx))(t)
	if len(us) != 2 || us[0].Username != evil || us[1].Username != "ana" {
		t.Fatalf("Users: %+v", us)
	}
}

func hexHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func testTokens(t *testing.T, s store.Store, clock *Clock) {
	must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	u := must(s.CreateUser(ctx, user("COL-DIRAN", "svc", "operator")))(t)
	exp := clock.Now().Add(24 * time.Hour)
	tk := must(s.CreateToken(ctx, store.Token{UserID: u.ID, Name: evil, Hash: hexHash("a"), Expires: exp}))(t)
	if tk.ID == "" || !tk.Expires.Equal(exp) || !tk.Revoked.IsZero() {
		t.Fatalf("CreateToken: %+v", tk)
	}
	_, err := s.CreateToken(ctx, store.Token{UserID: u.ID, Hash: hexHash("a")})
	wantErr(t, err, store.ErrConflict, "CreateToken(same hash)")
	_, err = s.CreateToken(ctx, store.Token{UserID: u.ID, Hash: "abc"})
	wantErr(t, err, store.ErrInvalid, "CreateToken(short hash)")
	_, err = s.CreateToken(ctx, store.Token{UserID: "nope", Hash: hexHash("b")})
	wantErr(t, err, store.ErrNotFound, "CreateToken(unknown user)")
	if got := must(s.TokenByHash(ctx, hexHash("a")))(t); got != tk {
		t.Fatalf("TokenByHash = %+v, want %+v", got, tk)
	}
	_, err = s.TokenByHash(ctx, hexHash("z"))
	wantErr(t, err, store.ErrNotFound, "TokenByHash(unknown)")
	clock.Advance(time.Hour)
	r := must(s.RevokeToken(ctx, tk.ID))(t)
	if !r.Revoked.Equal(clock.Now()) {
		t.Fatalf("RevokeToken: %+v", r)
	}
	clock.Advance(time.Hour)
	if r2 := must(s.RevokeToken(ctx, tk.ID))(t); r2 != r {
		t.Fatalf("RevokeToken again changed it: %+v, was %+v", r2, r)
	}
	_, err = s.RevokeToken(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "RevokeToken(unknown)")
	tks := must(s.Tokens(ctx, u.ID))(t)
	if len(tks) != 1 || tks[0] != r {
		t.Fatalf("Tokens: %+v", tks)
	}
}

func testSessions(t *testing.T, s store.Store, clock *Clock) {
	must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	u := must(s.CreateUser(ctx, user("COL-DIRAN", "ana", "analyst")))(t)
	v := must(s.CreateUser(ctx, user("COL-DIRAN", "bea", "analyst")))(t)
	exp := clock.Now().Add(12 * time.Hour)
	s1 := must(s.CreateSession(ctx, store.Session{Hash: hexHash("s1"), UserID: u.ID, CSRF: "c1", Expires: exp}))(t)
	must(s.CreateSession(ctx, store.Session{Hash: hexHash("s2"), UserID: u.ID, CSRF: "c2", Expires: exp}))(t)
	must(s.CreateSession(ctx, store.Session{Hash: hexHash("s3"), UserID: v.ID, CSRF: "c3", Expires: exp}))(t)
	_, err := s.CreateSession(ctx, store.Session{Hash: hexHash("s1"), UserID: v.ID, CSRF: "x", Expires: exp})
	wantErr(t, err, store.ErrConflict, "CreateSession(same hash)")
	if got := must(s.SessionByHash(ctx, hexHash("s1")))(t); got != s1 || !got.LastSeen.Equal(clock.Now()) {
		t.Fatalf("SessionByHash = %+v, want %+v", got, s1)
	}
	clock.Advance(10 * time.Minute)
	if err := s.TouchSession(ctx, hexHash("s1"), clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, hexHash("s1"), clock.Now().Add(-time.Hour)); err != nil { // never backwards
		t.Fatal(err)
	}
	if got := must(s.SessionByHash(ctx, hexHash("s1")))(t); !got.LastSeen.Equal(clock.Now()) {
		t.Fatalf("after TouchSession: %+v", got)
	}
	// s2 and s3 idle since creation, s1 seen 10 min ago.
	n := must(s.PurgeSessions(ctx, clock.Now().Add(-time.Minute), clock.Now()))(t)
	if n != 2 {
		t.Fatalf("PurgeSessions removed %d, want 2", n)
	}
	_, err = s.SessionByHash(ctx, hexHash("s3"))
	wantErr(t, err, store.ErrNotFound, "SessionByHash(purged)")
	clock.Advance(12 * time.Hour) // past s1's absolute expiry
	if n := must(s.PurgeSessions(ctx, time.Time{}, clock.Now()))(t); n != 1 {
		t.Fatalf("PurgeSessions at absolute expiry removed %d, want 1", n)
	}
	must(s.CreateSession(ctx, store.Session{Hash: hexHash("s4"), UserID: u.ID, CSRF: "c4", Expires: clock.Now().Add(time.Hour)}))(t)
	must(s.CreateSession(ctx, store.Session{Hash: hexHash("s5"), UserID: v.ID, CSRF: "c5", Expires: clock.Now().Add(time.Hour)}))(t)
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByHash(ctx, hexHash("s4"))
	wantErr(t, err, store.ErrNotFound, "SessionByHash(after DeleteUserSessions)")
	if err := s.DeleteSession(ctx, hexHash("s5")); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByHash(ctx, hexHash("s5"))
	wantErr(t, err, store.ErrNotFound, "SessionByHash(after DeleteSession)")
}

func testReleases(t *testing.T, s store.Store, clock *Clock) {
	must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	must(s.PutAgency(ctx, agency("PER-DIRANDRO", "PER", true)))(t)
	must(s.PutAgency(ctx, agency(evil, "USA", false)))(t)
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	r1 := must(s.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: "PER-DIRANDRO", ReleasedBy: "u1"}))(t)
	if !r1.At.Equal(clock.Now()) {
		t.Fatalf("ReleaseSite: %+v", r1)
	}
	clock.Advance(time.Minute)
	if again := must(s.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: "PER-DIRANDRO", ReleasedBy: "u2"}))(t); again != r1 {
		t.Fatalf("ReleaseSite again = %+v, want the first %+v", again, r1)
	}
	r2 := must(s.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: evil, ReleasedBy: "u1"}))(t)
	_, err := s.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: "NOPE", ReleasedBy: "u1"})
	wantErr(t, err, store.ErrNotFound, "ReleaseSite(unknown agency)")
	_, err = s.ReleaseSite(ctx, store.Release{SiteID: "nope", AgencyID: "PER-DIRANDRO", ReleasedBy: "u1"})
	wantErr(t, err, store.ErrNotFound, "ReleaseSite(unknown site)")
	_, err = s.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: "PER-DIRANDRO"})
	wantErr(t, err, store.ErrInvalid, "ReleaseSite(no releaser)")
	rs := must(s.Releases(ctx, st.ID))(t)
	if len(rs) != 2 || rs[0] != r1 || rs[1] != r2 {
		t.Fatalf("Releases = %+v", rs)
	}
	if ids := must(s.SitesReleasedTo(ctx, evil))(t); len(ids) != 1 || ids[0] != st.ID {
		t.Fatalf("SitesReleasedTo(evil) = %q", ids)
	}
	if ids := must(s.SitesReleasedTo(ctx, "COL-DIRAN"))(t); len(ids) != 0 {
		t.Fatalf("SitesReleasedTo(COL-DIRAN) = %q", ids)
	}
	// ReleasedTo over more sites than one batch holds.
	var many []string
	for i := 0; i < 1203; i++ {
		many = append(many, fmt.Sprintf("unknown-%d", i))
	}
	many = append(many[:700], append([]string{st.ID}, many[700:]...)...)
	m := must(s.ReleasedTo(ctx, many))(t)
	if len(m) != 1 || fmt.Sprint(m[st.ID]) != fmt.Sprint([]string{evil, "PER-DIRANDRO"}) {
		t.Fatalf("ReleasedTo = %q", m)
	}
	if m := must(s.ReleasedTo(ctx, nil))(t); len(m) != 0 {
		t.Fatalf("ReleasedTo(nil) = %v", m)
	}
}

// testReleaseAtomicWithDecision: the release rows, the decision, the site's
// new status, the outbox alert and the audit entry commit together or not
// at all.
func testReleaseAtomicWithDecision(t *testing.T, s store.Store, _ *Clock) {
	must(s.PutAgency(ctx, agency("COL-DIRAN", "COL", true)))(t)
	must(s.PutAgency(ctx, agency("PER-DIRANDRO", "PER", true)))(t)
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	release := func(tx store.Tx, fail bool) error {
		cur, err := tx.Site(ctx, st.ID)
		if err != nil {
			return err
		}
		cur.Status = store.SiteReleased
		if _, err := tx.UpdateSite(ctx, cur); err != nil {
			return err
		}
		if _, err := tx.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "u1", Action: store.ActionRelease}); err != nil {
			return err
		}
		if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: "PER-DIRANDRO", ReleasedBy: "u1"}); err != nil {
			return err
		}
		if _, err := tx.EnqueueAlert(ctx, store.Alert{SiteID: st.ID, Kind: "site.released", Payload: "{}"}); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, store.AuditEntry{ActorUser: "u1", Action: "site.release", ObjectType: "site", ObjectID: st.ID}, sealTest); err != nil {
			return err
		}
		if fail {
			return errors.New("injected failure after every write")
		}
		return nil
	}
	err := s.InTx(ctx, func(tx store.Tx) error { return release(tx, true) })
	if err == nil {
		t.Fatal("InTx returned nil after an injected failure")
	}
	if rs := must(s.Releases(ctx, st.ID))(t); len(rs) != 0 {
		t.Fatalf("rolled-back release left %+v", rs)
	}
	if h := must(s.AuditHead(ctx))(t); h.Seq != 0 {
		t.Fatalf("rolled-back audit entry moved the head to %+v", h)
	}
	if d := must(s.Decisions(ctx, st.ID))(t); len(d) != 0 {
		t.Fatalf("rolled-back decision left %+v", d)
	}
	if err := s.InTx(ctx, func(tx store.Tx) error { return release(tx, false) }); err != nil {
		t.Fatal(err)
	}
	if rs := must(s.Releases(ctx, st.ID))(t); len(rs) != 1 {
		t.Fatalf("releases after commit: %+v", rs)
	}
	if h := must(s.AuditHead(ctx))(t); h.Seq != 1 {
		t.Fatalf("audit head after commit: %+v (a rolled-back append must leave no gap)", h)
	}
	if got := must(s.Site(ctx, st.ID))(t); got.Status != store.SiteReleased {
		t.Fatalf("site after commit: %+v", got)
	}
}

// sealTest is a stand-in seal for the store's tests (package access has
// the real one): it hashes the fields the store sets.
func sealTest(e store.AuditEntry) string {
	return hexHash(strconv.FormatInt(e.Seq, 10) + "|" + e.PrevHash + "|" + e.Action + "|" + e.Details)
}

func testAuditAppend(t *testing.T, s store.Store, clock *Clock) {
	if h := must(s.AuditHead(ctx))(t); h != (store.AuditHead{}) {
		t.Fatalf("empty log's head = %+v", h)
	}
	e1 := must(s.AppendAudit(ctx, store.AuditEntry{ActorUser: "u1", ActorAgency: "A", Action: "user.create",
		ObjectType: "user", ObjectID: "u2", Details: `{"name":"` + "O'Brien\\\"; --" + `"}`}, sealTest))(t)
	if e1.Seq != 1 || e1.PrevHash != "" || e1.Hash != sealTest(e1) || !e1.At.Equal(clock.Now()) {
		t.Fatalf("first entry: %+v", e1)
	}
	clock.Advance(time.Second)
	e2 := must(s.AppendAudit(ctx, store.AuditEntry{Action: "site.read", ObjectID: evil, Details: evil}, sealTest))(t)
	if e2.Seq != 2 || e2.PrevHash != e1.Hash {
		t.Fatalf("second entry: %+v", e2)
	}
	_, err := s.AppendAudit(ctx, store.AuditEntry{}, sealTest)
	wantErr(t, err, store.ErrInvalid, "AppendAudit(no action)")
	got := must(s.AuditEntries(ctx, 0, 0))(t)
	if len(got) != 2 || got[0] != e1 || got[1] != e2 {
		t.Fatalf("AuditEntries = %+v\nwant %+v\n%+v", got, e1, e2)
	}
	if got := must(s.AuditEntries(ctx, 1, 10))(t); len(got) != 1 || got[0] != e2 {
		t.Fatalf("AuditEntries(after 1) = %+v", got)
	}
	if h := must(s.AuditHead(ctx))(t); h.Seq != 2 || h.Hash != e2.Hash {
		t.Fatalf("head = %+v", h)
	}
}

// testAuditConcurrentAppends: appends from many goroutines never fork the
// chain: seqs 1..n without gaps, each entry's prev_hash the hash before it.
func testAuditConcurrentAppends(t *testing.T, s store.Store, _ *Clock) {
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.AppendAudit(ctx, store.AuditEntry{Action: "test", ObjectID: fmt.Sprintf("%d-%d", w, i)}, sealTest)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := must(s.AuditEntries(ctx, 0, 0))(t)
	if len(got) != workers*each {
		t.Fatalf("%d entries, want %d", len(got), workers*each)
	}
	prev := ""
	for i, e := range got {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != sealTest(e) {
			t.Fatalf("entry %d: %+v (prev hash want %s)", i, e, prev)
		}
		prev = e.Hash
	}
}
