package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// runIn executes the root command with args and standard input.
func runIn(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// TestAccessCommands drives agency, user, token and audit against SQLite
// and PostgreSQL, then tampers with the audit log (triggers dropped) and
// checks that audit verify fails naming the entry.
func TestAccessCommands(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			var url, driver, dsn string
			if dialect == "sqlite" {
				path := filepath.Join(t.TempDir(), "a.db")
				url, driver, dsn = "sqlite:"+path, "sqlite", path
			} else {
				url = storetest.PostgresSchemaURL(t)
				driver, dsn = "pgx", url
			}
			db := []string{"--db", url}
			step := func(stdin string, args ...string) string {
				t.Helper()
				out, _, err := runIn(t, stdin, append(args, db...)...)
				if err != nil {
					t.Fatalf("atalaya %s: %v", strings.Join(args, " "), err)
				}
				return out
			}
			step("", "agency", "add", "--id", "COL-DIRAN", "--name", "Dirección de Antinarcóticos", "--country", "COL", "--host")
			step("", "agency", "add", "--id", "USA-DEA", "--name", "DEA", "--country", "USA", "--lang", "en")
			if out := step("", "agency", "list"); !strings.Contains(out, "COL-DIRAN  COL      true") || !strings.Contains(out, "USA-DEA") {
				t.Errorf("agency list:\n%s", out)
			}
			out := step("", "user", "add", "--username", "mgomez", "--name", "María Gómez", "--agency", "COL-DIRAN", "--role", "analyst")
			pw := regexp.MustCompile(`password \(shown once\): (\S+)`).FindStringSubmatch(out)
			if pw == nil || len(pw[1]) != 24 {
				t.Fatalf("user add printed no password:\n%s", out)
			}
			step("a long password from stdin\n", "user", "add", "--username", "ops", "--agency", "COL-DIRAN", "--role", "operator", "--password-stdin")
			if out := step("", "user", "list"); !strings.Contains(out, "mgomez    analyst") || !strings.Contains(out, "ops       operator") {
				t.Errorf("user list:\n%s", out)
			}
			step("another long password\n", "user", "passwd", "ops", "--password-stdin")
			step("", "user", "disable", "ops")
			if out := step("", "user", "list"); !regexp.MustCompile(`ops\s+operator\s+COL-DIRAN\s+es\s+true`).MatchString(out) {
				t.Errorf("user list after disable:\n%s", out)
			}
			step("", "user", "disable", "ops", "--enable")
			tok := strings.TrimSpace(step("", "token", "create", "--user", "ops", "--name", "drone-7", "--ttl", "24h"))
			if !regexp.MustCompile(`^atl_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
				t.Fatalf("token create printed %q", tok)
			}
			list := step("", "token", "list", "--user", "ops")
			id := regexp.MustCompile(`(?m)^([0-9a-f]{32})\s`).FindStringSubmatch(list)
			if id == nil || strings.Contains(list, tok) {
				t.Fatalf("token list:\n%s", list)
			}
			step("", "token", "revoke", id[1])

			// Errors say what is wrong.
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"user", "add", "--username", "x", "--agency", "NOPE", "--role", "analyst"}, "agency list"},
				{[]string{"user", "add", "--username", "x", "--agency", "COL-DIRAN", "--role", "boss"}, "want administrator, operator"},
				{[]string{"agency", "add", "--id", "COL-2", "--name", "x", "--country", "COL", "--host"}, "already has a host agency"},
				{[]string{"agency", "add", "--id", "X", "--name", "x", "--country", "Colombia"}, "alpha-3"},
				{[]string{"user", "passwd", "nobody"}, "user list"},
			} {
				if _, _, err := runIn(t, "", append(c.args, db...)...); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("atalaya %s: %v, want an error with %q", strings.Join(c.args, " "), err, c.want)
				}
			}

			out = step("", "audit", "verify")
			if !strings.Contains(out, "audit log intact: 9 entries") {
				t.Fatalf("audit verify:\n%s", out)
			}
			out = step("", "audit", "list", "--action", "user.create")
			if strings.Count(out, "user.create") != 2 || !strings.Contains(out, "system:cli:") {
				t.Errorf("audit list --action user.create:\n%s", out)
			}
			cp := filepath.Join(t.TempDir(), "head.json")
			step("", "audit", "checkpoint", "--out", cp)
			step("", "audit", "verify", "--checkpoint", cp)

			// Tamper: drop the triggers, edit entry 3's details.
			raw, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			drops := []string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_head_forward"}
			if dialect == "postgres" {
				drops = []string{"DROP TRIGGER audit_log_no_change ON audit_log", "DROP TRIGGER audit_head_move ON audit_head"}
			}
			for _, q := range append(drops, `UPDATE audit_log SET details = '{"username":"someone else"}' WHERE seq = 3`) {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			_, _, err = runIn(t, "", append([]string{"audit", "verify"}, db...)...)
			if err == nil || !strings.Contains(err.Error(), "NOT intact: audit entry 3: hash does not match its content (edited)") {
				t.Fatalf("verify of an edited log: %v", err)
			}
		})
	}
}

func TestAuditVerifyCheckpointCatchesTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := []string{"--db", "sqlite:" + path}
	for _, id := range []string{"A", "B", "C", "D"} {
		if _, _, err := runIn(t, "", append([]string{"agency", "add", "--id", id, "--name", id, "--country", "ECU"}, db...)...); err != nil {
			t.Fatal(err)
		}
	}
	cp := filepath.Join(t.TempDir(), "head.json")
	if _, _, err := runIn(t, "", append([]string{"audit", "checkpoint", "--out", cp}, db...)...); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_head_forward",
		"DELETE FROM audit_log WHERE seq > 2",
		"UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if out, _, err := runIn(t, "", append([]string{"audit", "verify"}, db...)...); err != nil || !strings.Contains(out, "intact: 2 entries") {
		t.Fatalf("without the checkpoint the cut log looks whole (the documented limit): %q %v", out, err)
	}
	_, _, err = runIn(t, "", append([]string{"audit", "verify", "--checkpoint", cp}, db...)...)
	if err == nil || !strings.Contains(err.Error(), "audit entry 3: missing: the checkpoint") {
		t.Fatalf("verify with the checkpoint: %v", err)
	}
	// A signed checkpoint: verified with the public key; altered, refused.
	keys := filepath.Join(t.TempDir(), "signing")
	if _, _, err := runIn(t, "", "audit", "keygen", "--out", keys); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keys + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", st, err)
	}
	scp := filepath.Join(t.TempDir(), "signed.json")
	if _, _, err := runIn(t, "", append([]string{"audit", "checkpoint", "--out", scp, "--sign-key", keys + ".key"}, db...)...); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runIn(t, "", append([]string{"audit", "verify", "--checkpoint", scp, "--verify-key", keys + ".pub"}, db...)...); err != nil || !strings.Contains(out, "checkpoint of") {
		t.Fatalf("verify with a signed checkpoint: %q %v", out, err)
	}
	if _, _, err := runIn(t, "", append([]string{"audit", "verify", "--checkpoint", cp, "--verify-key", keys + ".pub"}, db...)...); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("verify-key with an unsigned checkpoint: %v", err)
	}
	b, _ := os.ReadFile(scp)
	forged := filepath.Join(t.TempDir(), "forged.json")
	if err := os.WriteFile(forged, []byte(strings.Replace(string(b), `"seq": 2`, `"seq": 1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runIn(t, "", append([]string{"audit", "verify", "--checkpoint", forged, "--verify-key", keys + ".pub"}, db...)...); err == nil || !strings.Contains(err.Error(), "signature does not match") {
		t.Fatalf("verify with an altered signed checkpoint: %v", err)
	}
	// A missing store is an error, not a new empty one.
	missing := filepath.Join(t.TempDir(), "none.db")
	if _, _, err := runIn(t, "", "audit", "verify", "--db", "sqlite:"+missing); err == nil {
		t.Fatal("verify of a missing store succeeded")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("verify created the store it was pointed at")
	}
}
