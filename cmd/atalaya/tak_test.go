package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

func TestTAKCommands(t *testing.T) {
	data := t.TempDir()
	out, err := run(t, "tak", "ca", "init", "--data", data, "--org", "Policía", "--unit", "Antinarcóticos")
	if err != nil || !strings.Contains(out, filepath.Join(data, "tak-ca", "ca.pem")) {
		t.Fatalf("ca init: %v\n%s", err, out)
	}
	if _, err := run(t, "tak", "ca", "init", "--data", data); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second ca init: %v", err)
	}
	ts := filepath.Join(data, "truststore.p12")
	if out, err := run(t, "tak", "ca", "truststore", "--data", data, "--out", ts); err != nil || !strings.Contains(out, "Atalaya TAK CA") {
		t.Fatalf("truststore: %v %s", err, out)
	}
	info, err := exec.Command("openssl", "pkcs12", "-in", ts, "-passin", "pass:atakatak", "-nokeys", "-info").CombinedOutput()
	if err != nil || !strings.Contains(string(info), "friendlyName: ca0") || !strings.Contains(string(info), "CN = Atalaya TAK CA") {
		t.Errorf("openssl reads the trust store: %v\n%s", err, info)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(data, "atalaya.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutAgency(ctx, store.Agency{ID: "COL-DIRAN", Name: "DIRAN", Country: "COL", Lang: "es", Host: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, store.User{AgencyID: "COL-DIRAN", Username: "ana", Role: string(access.RolePartner), Lang: "es"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if _, err := run(t, "tak", "cert", "issue", "--data", data, "--user", "nobody", "--out", filepath.Join(data, "x.p12")); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("issue for an unknown user: %v", err)
	}
	p12 := filepath.Join(data, "ana.p12")
	out, err = run(t, "tak", "cert", "issue", "--data", data, "--user", "ana", "--out", p12, "--password", "s3cret")
	if err != nil || !strings.Contains(out, "for ana (COL-DIRAN)") {
		t.Fatalf("issue: %v\n%s", err, out)
	}
	serial := strings.Fields(out)[2]
	// OpenSSL, software nobody here wrote, reads the key store.
	info, err = exec.Command("openssl", "pkcs12", "-in", p12, "-passin", "pass:s3cret", "-nodes", "-info").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, info)
	}
	if s := string(info); !strings.Contains(s, "CN = ana") || !strings.Contains(s, "BEGIN PRIVATE KEY") || !strings.Contains(s, "Atalaya TAK CA") {
		t.Errorf("openssl sees:\n%s", s)
	}
	out, err = run(t, "tak", "cert", "list", "--data", data)
	if err != nil || !strings.Contains(out, serial) || !strings.Contains(out, "COL-DIRAN") {
		t.Errorf("list: %v\n%s", err, out)
	}
	if _, err := run(t, "tak", "cert", "revoke", "--data", data); err == nil {
		t.Error("revoke without --serial or --user succeeded")
	}
	out, err = run(t, "tak", "cert", "revoke", "--data", data, "--serial", serial, "--reason", "phone lost")
	if err != nil || !strings.Contains(out, "revoked 1") {
		t.Errorf("revoke: %v %s", err, out)
	}
	if out, _ := run(t, "tak", "cert", "list", "--data", data, "--user", "ana"); !strings.Contains(out, "phone lost") {
		t.Errorf("list after revoke:\n%s", out)
	}
	// Issue and revocation are in the audit log, and the chain holds.
	out, err = run(t, "audit", "list", "--data", data)
	if err != nil || !strings.Contains(out, "tak.cert.issue") || !strings.Contains(out, "tak.cert.revoke") || !strings.Contains(out, serial) {
		t.Errorf("audit list: %v\n%s", err, out)
	}
	if out, err := run(t, "audit", "verify", "--data", data); err != nil {
		t.Errorf("audit verify: %v\n%s", err, out)
	}
}
