package access

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// The reference implementation's argon2id test vectors (phc-winner-argon2,
// by the RFC 9106 authors: src/test.c, version 0x13), checked below against
// Debian's build of that implementation too. (RFC 9106's own section 5.3
// vector uses a secret key and associated data, which x/crypto's argon2
// API does not take.)
var refVectors = []struct {
	pw, salt string
	t, mKiB  uint32
	p        uint8
	phc      string
}{
	{"password", "somesalt", 2, 1 << 16, 1, "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
	{"password", "somesalt", 2, 1 << 8, 1, "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
	{"password", "somesalt", 2, 1 << 8, 2, "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
	{"password", "somesalt", 1, 1 << 16, 1, "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
	{"password", "somesalt", 4, 1 << 16, 1, "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$kCXUjmjvc5XMqQedpMTsOv+zyJEf5PhtGiUghW9jFyw"},
	{"differentpassword", "somesalt", 2, 1 << 16, 1, "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
	{"password", "diffsalt", 2, 1 << 16, 1, "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw"},
}

func TestArgon2idReferenceVectors(t *testing.T) {
	for _, v := range refVectors {
		p := Params{Memory: v.mKiB, Time: v.t, Threads: v.p, SaltLen: uint32(len(v.salt)), KeyLen: 32}
		key := argon2.IDKey([]byte(v.pw), []byte(v.salt), v.t, v.mKiB, v.p, 32)
		if got := encodePHC(p, []byte(v.salt), key); got != v.phc {
			t.Errorf("%s/%s m=%d t=%d p=%d:\n got %s\nwant %s", v.pw, v.salt, v.mKiB, v.t, v.p, got, v.phc)
		}
	}
	// VerifyPassword on the first vector: right and wrong passwords.
	v := refVectors[0]
	p := Params{Memory: v.mKiB, Time: v.t, Threads: v.p, SaltLen: uint32(len(v.salt)), KeyLen: 32}
	if ok, rehash, err := VerifyPassword(v.pw, v.phc, p); err != nil || !ok || rehash {
		t.Errorf("VerifyPassword(%s) = %v %v %v", v.phc, ok, rehash, err)
	}
	if ok, _, _ := VerifyPassword(v.pw+"x", v.phc, p); ok {
		t.Errorf("VerifyPassword accepted a wrong password for %s", v.phc)
	}
}

// TestArgon2CLI checks our argon2id with Debian's argon2, the reference
// implementation's command-line tool (scripts/test.sh installs it): the
// same password, salt and parameters give the same PHC string.
func TestArgon2CLI(t *testing.T) {
	if _, err := exec.LookPath("argon2"); err != nil {
		t.Fatal("the argon2 command (Debian package argon2) is missing: apt-get install argon2")
	}
	for _, v := range append(refVectors, struct {
		pw, salt string
		t, mKiB  uint32
		p        uint8
		phc      string
	}{"correct horse battery staple ñ", "0123456789abcdef", DefaultParams.Time, DefaultParams.Memory, DefaultParams.Threads, ""}) {
		// argon2 SALT -id -t T -k KiB -p P -l 32 -e, password on stdin.
		cmd := exec.Command("argon2", v.salt, "-id", "-t", itoa(v.t), "-k", itoa(v.mKiB), "-p", itoa(uint32(v.p)), "-l", "32", "-e")
		cmd.Stdin = strings.NewReader(v.pw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("argon2: %v", err)
		}
		p := Params{Memory: v.mKiB, Time: v.t, Threads: v.p, SaltLen: uint32(len(v.salt)), KeyLen: 32}
		mine := encodePHC(p, []byte(v.salt), argon2.IDKey([]byte(v.pw), []byte(v.salt), v.t, v.mKiB, v.p, 32))
		if ref := strings.TrimSpace(string(out)); ref != mine {
			t.Errorf("argon2 CLI %s\n      mine %s", ref, mine)
		}
		if v.phc != "" && mine != v.phc {
			t.Errorf("vector %s", v.phc)
		}
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestHashPasswordDefault(t *testing.T) {
	fast := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h1 := HashPassword("a long enough password", fast)
	h2 := HashPassword("a long enough password", fast)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %s", h1)
	}
	ok, rehash, err := VerifyPassword("a long enough password", h1, fast)
	if !ok || rehash || err != nil {
		t.Fatalf("verify: %v %v %v", ok, rehash, err)
	}
	// The parameters changed since: still accepted, and flagged for rehash.
	ok, rehash, err = VerifyPassword("a long enough password", h1, DefaultParams)
	if !ok || !rehash || err != nil {
		t.Fatalf("verify with new parameters: %v %v %v", ok, rehash, err)
	}
	ok, rehash, err = VerifyPassword("a long enough passwore", h1, DefaultParams)
	if ok || rehash || err != nil {
		t.Fatalf("wrong password: %v %v %v", ok, rehash, err)
	}
	d := HashPassword("x", DefaultParams)
	if !strings.HasPrefix(d, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %s", d)
	}
}

func TestParsePHCRejects(t *testing.T) {
	good := refVectors[0].phc
	for _, s := range []string{
		"",
		"plain",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=65536", "m=99999999", 1), // 95 GiB
		strings.Replace(good, "t=2", "t=0", 1),
		strings.Replace(good, "t=2", "t=1000", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "p=1", "p=256", 1),
		strings.Replace(good, "m=65536", "m=065536", 1),
		strings.Replace(good, "m=65536,t=2", "t=2,m=65536", 1),
		strings.Replace(good, "c29tZXNhbHQ", "c29t", 1), // 3-byte salt
		strings.Replace(good, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1),
		good + "$",
		good[:len(good)-30], // a 9-byte hash
	} {
		if _, _, _, err := ParsePHC(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePHC(%q) = %v, want ErrInvalid", s, err)
		}
		if ok, _, err := VerifyPassword("password", s, DefaultParams); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v", s, ok, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"":                        false,
		"short":                   false,
		"elevenchars":             false,
		"twelve chars":            true,
		"ñandú ñandú ":            true, // 12 characters, 16 bytes
		strings.Repeat("a", 1024): true,
		strings.Repeat("a", 1025): false,
	} {
		if err := CheckPassword(pw); (err == nil) != ok {
			t.Errorf("CheckPassword(%d bytes) = %v", len(pw), err)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, v := range refVectors {
		f.Add(v.phc)
	}
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := ParsePHC(s)
		if err != nil {
			return
		}
		if p.Memory > maxMemory || p.Time > maxTime || p.Threads == 0 || len(salt) < minSalt || len(key) < minKey {
			t.Fatalf("accepted out-of-range %q: %+v", s, p)
		}
		if back := encodePHC(p, salt, key); back != s {
			t.Fatalf("round trip %q → %q", s, back)
		}
	})
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		HashPassword("correct horse battery staple", DefaultParams)
	}
}
