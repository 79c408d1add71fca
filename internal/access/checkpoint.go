package access

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Signed checkpoints: a checkpoint signed with an Ed25519 key that the
// database's administrators do not hold cannot be forged to match a
// rewritten log, so it may be kept anywhere (even beside the database);
// verify checks it with the public key.

const checkpointDomain = "atalaya-audit-checkpoint-v1"

// message is what a checkpoint's signature covers: the domain, seq, hash
// and time (RFC 3339, UTC, nanoseconds), one per line.
func (c Checkpoint) message() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n%s", checkpointDomain, c.Seq, c.Hash, c.At.UTC().Format(time.RFC3339Nano))
}

// Sign returns c signed with key.
func (c Checkpoint) Sign(key ed25519.PrivateKey) Checkpoint {
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.message()))
	return c
}

// VerifySignature checks c's signature with pub.
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if c.Signature == "" {
		return fmt.Errorf("%w: checkpoint of entry %d is not signed", ErrInvalid, c.Seq)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, c.message(), sig) {
		return fmt.Errorf("%w: checkpoint of entry %d: the signature does not match (forged or altered)", ErrInvalid, c.Seq)
	}
	return nil
}

// NewCheckpointKey makes an Ed25519 key pair for signing checkpoints and
// returns both halves encoded for files: the private key as base64 of its
// 32-byte seed, the public key as base64 of its 32 bytes.
func NewCheckpointKey() (private, public string) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand never fails (Go ≥ 1.24)
	return base64.StdEncoding.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(pub)
}

// ParseCheckpointKey reads a private key written by NewCheckpointKey.
func ParseCheckpointKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: checkpoint signing key: want base64 of a %d-byte Ed25519 seed", ErrInvalid, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// ParseCheckpointPublicKey reads a public key written by NewCheckpointKey.
func ParseCheckpointPublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: checkpoint public key: want base64 of a %d-byte Ed25519 public key", ErrInvalid, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
