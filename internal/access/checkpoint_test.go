package access

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestCheckpointSignature(t *testing.T) {
	priv, pub := NewCheckpointKey()
	key, err := ParseCheckpointKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParseCheckpointPublicKey(pub + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !pk.Equal(key.Public()) {
		t.Fatal("the public key does not belong to the private key")
	}
	cp := Checkpoint{Seq: 42, Hash: "948bb3c0f239583252df4cf0f51deaecc577f84cdf7a72139824236a1d7e7620",
		At: time.Date(2026, 11, 25, 17, 0, 0, 123, time.UTC)}
	if err := cp.VerifySignature(pk); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unsigned checkpoint: %v", err)
	}
	signed := cp.Sign(key)
	if err := signed.VerifySignature(pk); err != nil {
		t.Fatal(err)
	}
	// The signature is standard Ed25519 over the documented message.
	sig, _ := base64.StdEncoding.DecodeString(signed.Signature)
	msg := "atalaya-audit-checkpoint-v1\n42\n948bb3c0f239583252df4cf0f51deaecc577f84cdf7a72139824236a1d7e7620\n2026-11-25T17:00:00.000000123Z"
	if !ed25519.Verify(pk, []byte(msg), sig) {
		t.Fatal("signature is not over the documented message")
	}
	for name, mod := range map[string]func(*Checkpoint){
		"seq":       func(c *Checkpoint) { c.Seq = 41 },
		"hash":      func(c *Checkpoint) { c.Hash = "0" + c.Hash[1:] },
		"time":      func(c *Checkpoint) { c.At = c.At.Add(time.Nanosecond) },
		"signature": func(c *Checkpoint) { c.Signature = c.Signature[:10] + "A" + c.Signature[11:] },
	} {
		c := signed
		mod(&c)
		if c == signed && name == "signature" {
			c.Signature = c.Signature[:10] + "B" + c.Signature[11:]
		}
		if err := c.VerifySignature(pk); !errors.Is(err, ErrInvalid) {
			t.Errorf("altered %s: %v", name, err)
		}
	}
	_, other := NewCheckpointKey()
	opk, _ := ParseCheckpointPublicKey(other)
	if err := signed.VerifySignature(opk); !errors.Is(err, ErrInvalid) {
		t.Errorf("another key verified it: %v", err)
	}
	for _, bad := range []string{"", "abc", pub + "AAAA"} {
		if _, err := ParseCheckpointKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCheckpointKey(%q): %v", bad, err)
		}
		if _, err := ParseCheckpointPublicKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCheckpointPublicKey(%q): %v", bad, err)
		}
	}
}
