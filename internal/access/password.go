package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes (parallelism)
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams is OWASP's recommended minimum configuration for argon2id
// (Password Storage Cheat Sheet: "m=19456 (19 MiB), t=2, p=1"), with a
// 128-bit salt and a 256-bit tag (as RFC 9106 section 4 recommends). RFC
// 9106's second recommended option (t=3, p=4, 64 MiB) took 1.8–3.3 s per
// hash on this 2-core machine under load — too slow for a login — while
// this takes ≈ 0.05 s (BenchmarkHashPassword). Authenticator runs at most
// two hashes at once, bounding a burst of logins to 38 MiB. Stored hashes
// carry their parameters; a login with a hash made with other parameters
// is rehashed with these (VerifyPassword's rehash).
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Password rules: at least 12 characters (OWASP ASVS 4.0.3, 2.1.1), at
// most 1024 bytes (long enough for any passphrase, short enough to bound
// the work of hashing).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// CheckPassword says what is wrong with a new password, if anything.
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("%w: password: %d characters, want at least %d", ErrInvalid, n, MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("%w: password: %d bytes, want at most %d", ErrInvalid, len(pw), MaxPasswordLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding // PHC strings: standard alphabet, no padding

// HashPassword hashes pw with argon2id and a random salt and returns the
// PHC string "$argon2id$v=19$m=…,t=…,p=…$salt$hash".
func HashPassword(pw string, p Params) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go ≥ 1.24)
	return encodePHC(p, salt, argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen))
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Bounds on parameters read from a stored hash, so that a corrupt or
// planted hash cannot make a login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSalt    = 8
	maxSaltKey = 128
	minKey     = 16
)

// ParsePHC reads an argon2id PHC string.
func ParsePHC(s string) (p Params, salt, key []byte, err error) {
	bad := func(what string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: password hash: %s: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrInvalid, what)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad(fmt.Sprintf("%d fields", len(parts)))
	}
	if parts[1] != "argon2id" {
		return bad(fmt.Sprintf("algorithm %q", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad(fmt.Sprintf("version %q", parts[2]))
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad(fmt.Sprintf("parameters %q", parts[3]))
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad(fmt.Sprintf("parameter %q", kv[i]))
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return bad(fmt.Sprintf("parameter %q", kv[i]))
		}
		vals[i] = n
	}
	p = Params{Memory: uint32(vals[0]), Time: uint32(vals[1])}
	if vals[2] < 1 || vals[2] > 255 || p.Time < 1 || p.Time > maxTime || p.Memory < 8*uint32(vals[2]) || p.Memory > maxMemory {
		return bad(fmt.Sprintf("parameters m=%d,t=%d,p=%d out of range", vals[0], vals[1], vals[2]))
	}
	p.Threads = uint8(vals[2])
	// encoding/base64 skips \r and \n even in strict mode: refuse them,
	// so one hash has one spelling.
	if strings.ContainsAny(parts[4]+parts[5], "\r\n") {
		return bad("line break in the salt or hash")
	}
	if salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(salt) < minSalt || len(salt) > maxSaltKey {
		return bad("salt")
	}
	if key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(key) < minKey || len(key) > maxSaltKey {
		return bad("hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// VerifyPassword checks pw against a PHC string in constant time (for a
// given hash). rehash is true when the password matched but the hash was
// made with parameters other than want: the caller then stores
// HashPassword(pw, want).
func VerifyPassword(pw, phc string, want Params) (ok, rehash bool, err error) {
	p, salt, key, err := ParsePHC(phc)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != want, nil
}
