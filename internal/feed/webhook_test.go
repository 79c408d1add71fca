package feed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The signature is HMAC-SHA256 over "<t>.<body>" as OpenSSL computes it.
func TestSignMatchesOpenSSL(t *testing.T) {
	secret := "whsec-0123456789abcdef"
	body := []byte(`{"id":"a1","kind":"site.released","site":{"id":"s1","lat":4.6,"lon":-74.1}}`)
	at := time.Unix(1767225600, 0)
	cmd := exec.Command("openssl", "dgst", "-sha256", "-hmac", secret, "-r")
	cmd.Stdin = bytes.NewReader(append([]byte("1767225600."), body...))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	want := "t=1767225600,v1=" + strings.Fields(string(out))[0]
	if got := Sign([]byte(secret), at, body); got != want {
		t.Fatalf("Sign = %s\nopenssl gives %s", got, want)
	}
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("whsec-0123456789abcdef")
	body := []byte(`{"id":"a1"}`)
	now := time.Unix(1767225600, 0)
	sig := Sign(secret, now, body)
	ok := func(h string, b []byte, at time.Time) error { return VerifyWebhook(secret, h, b, at, 0) }
	if err := ok(sig, body, now.Add(4*time.Minute)); err != nil {
		t.Fatalf("valid delivery: %v", err)
	}
	// Secret rotation: the old and the new signature side by side.
	rot := sig + ",v1=" + strings.Repeat("0", 64)
	if err := ok("t=1767225600,v1="+strings.Repeat("ab", 32)+","+strings.TrimPrefix(sig, "t=1767225600,"), body, now); err != nil {
		t.Fatalf("second of two signatures: %v", err)
	}
	if err := ok(rot, body, now); err != nil {
		t.Fatalf("first of two signatures: %v", err)
	}
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"altered body", sig, []byte(`{"id":"a2"}`), now, ErrSignature},
		{"other secret", Sign([]byte("other-secret-0123456"), now, body), body, now, ErrSignature},
		{"replayed later", sig, body, now.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", sig, body, now.Add(-6 * time.Minute), ErrTimestamp},
		{"timestamp moved", strings.Replace(sig, "t=1767225600", "t=1767225900", 1), body, now.Add(5 * time.Minute), ErrSignature},
		{"no header", "", body, now, ErrSignature},
		{"no signature", "t=1767225600", body, now, ErrSignature},
		{"no timestamp", "v1=" + strings.Repeat("0", 64), body, now, ErrSignature},
		{"two timestamps", "t=1,t=2,v1=00", body, now, ErrSignature},
		{"signed timestamp", "t=-1767225600,v1=00", body, now, ErrSignature},
		{"not key=value", "garbage", body, now, ErrSignature},
	} {
		if err := ok(tc.header, tc.body, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// The shell one-liner in docs/feeds.md (testdata/verify-webhook.sh)
// accepts a real delivery and refuses an altered one.
func TestVerifyWebhookShell(t *testing.T) {
	secret := "whsec-0123456789abcdef"
	body := []byte(`{"id":"a1","kind":"site.released"}`)
	dir := t.TempDir()
	run := func(b []byte, sig string) (string, error) {
		f := filepath.Join(dir, "body.json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "testdata/verify-webhook.sh", f)
		cmd.Env = append(os.Environ(), "SECRET="+secret, "SIG="+sig)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	sig := Sign([]byte(secret), time.Now(), body)
	if out, err := run(body, sig); err != nil || out != "valid" {
		t.Fatalf("shell verification of a good delivery: %q, %v", out, err)
	}
	if out, err := run(append(body, ' '), sig); err == nil || out != "invalid" {
		t.Fatalf("shell verification of an altered body: %q, %v", out, err)
	}
	old := Sign([]byte(secret), time.Now().Add(-time.Hour), body)
	if out, err := run(body, old); err == nil || out != "invalid" {
		t.Fatalf("shell verification of an hour-old delivery: %q, %v", out, err)
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	secret := []byte("whsec-0123456789abcdef")
	now := time.Unix(1767225600, 0)
	f.Add(Sign(secret, now, []byte("{}")), []byte("{}"))
	f.Add("t=1767225600,v1=zz,v1=", []byte("x"))
	f.Add("t=,v1=", []byte(""))
	f.Add(",,,", []byte(""))
	f.Add("t=99999999999999999999,v1=00", []byte(""))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := VerifyWebhook(secret, header, body, now, 0)
		if err != nil && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrTimestamp) {
			t.Fatalf("error %v wraps neither sentinel", err)
		}
		// Only a header made with the secret for this body passes.
		if err == nil && VerifyWebhook([]byte("another-secret-0123"), header, body, now, 0) == nil {
			t.Fatalf("header %q verifies under two secrets", header)
		}
	})
}

// Example: a receiver verifies each delivery before trusting it, then
// drops repeats by alert id.
func ExampleVerifyWebhook() {
	secret := []byte("whsec-0123456789abcdef")
	body := []byte(`{"id":"01a2","kind":"site.released"}`)
	sent := time.Unix(1767225600, 0)
	header := Sign(secret, sent, body) // what Atalaya puts in X-Atalaya-Signature

	// In the receiver's handler: header = r.Header.Get(feed.HeaderSignature),
	// body = the raw bytes read from r.Body.
	err := VerifyWebhook(secret, header, body, sent.Add(30*time.Second), DefaultTolerance)
	fmt.Println(err)
	err = VerifyWebhook(secret, header, body, sent.Add(time.Hour), DefaultTolerance)
	fmt.Println(errors.Is(err, ErrTimestamp))
	// Output:
	// <nil>
	// true
}
