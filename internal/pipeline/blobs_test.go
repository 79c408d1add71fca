package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// One test body for both implementations: sizes around the part size
// (1000 bytes for the object store) round-trip, Exists tells, a missing
// key is ErrBlobNotFound, and bad keys are refused.
func TestBlobs(t *testing.T) {
	ctx := context.Background()
	ns := startNATS(t)
	nc, err := Connect(ns.ClientURL(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := NewObjectStore(ctx, js, ObjectStoreConfig{PartSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]Blobs{"dir": dir, "object-store": obs} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, n := range []int{0, 1, 999, 1000, 1001, 5500} {
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				key := "cube/test-" + string(rune('a'+n%26)) + ".tar"
				if err := b.Put(ctx, key, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
				if ok, err := b.Exists(ctx, key); !ok || err != nil {
					t.Fatalf("%d bytes: exists %v, %v", n, ok, err)
				}
				rc, err := b.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				_ = rc.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
				}
				// Through the URI the store records, too.
				rc, err = OpenURI(ctx, b.URI(key), js)
				if err != nil {
					t.Fatal(err)
				}
				got, _ = io.ReadAll(rc)
				_ = rc.Close()
				if !bytes.Equal(got, data) {
					t.Fatalf("%d bytes by URI %s: read back %d bytes", n, b.URI(key), len(got))
				}
			}
			if ok, err := b.Exists(ctx, "cube/missing.tar"); ok || err != nil {
				t.Errorf("missing blob: exists %v, %v", ok, err)
			}
			if _, err := b.Get(ctx, "cube/missing.tar"); !errors.Is(err, ErrBlobNotFound) {
				t.Errorf("missing blob: %v, want ErrBlobNotFound", err)
			}
			for _, bad := range []string{"", "/abs", "../up", "a/../../b", `a\b`} {
				if err := b.Put(ctx, bad, bytes.NewReader(nil)); err == nil {
					t.Errorf("key %q accepted", bad)
				}
			}
		})
	}
}

// The archive of a cube is the same bytes for the same files, extracts to
// the same files, and a wrong SHA-256 or a foreign entry is refused.
func TestCubeArchive(t *testing.T) {
	hdrs := writeCubes(t, t.TempDir(), 1, 16, 12, 8)
	data := hdrs[0][:len(hdrs[0])-len(".hdr")] + ".img"
	sha1, n1, err := hashCubeArchive(hdrs[0], data)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := writeCubeArchive(&buf, hdrs[0], data); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != n1 {
		t.Fatalf("archive %d bytes, hashed %d", buf.Len(), n1)
	}
	out := t.TempDir()
	hdr, err := extractCubeArchive(bytes.NewReader(buf.Bytes()), out, sha1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{hdrs[0], hdr}, {data, filepath.Join(out, archiveData)}} {
		a, _ := os.ReadFile(p[0])
		b, _ := os.ReadFile(p[1])
		if !bytes.Equal(a, b) {
			t.Errorf("%s extracted differently", p[0])
		}
	}
	if sha2, _, _ := hashCubeArchive(hdr, filepath.Join(out, archiveData)); sha2 != sha1 {
		t.Errorf("same bytes, different SHA-256: %s, %s", sha1, sha2)
	}
	if _, err := extractCubeArchive(bytes.NewReader(buf.Bytes()), t.TempDir(), "00"+sha1[2:]); !errors.Is(err, ErrArchive) {
		t.Errorf("wrong SHA-256: %v, want ErrArchive", err)
	}
	if _, err := extractCubeArchive(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), t.TempDir(), ""); err == nil {
		t.Error("truncated archive accepted")
	}
}
