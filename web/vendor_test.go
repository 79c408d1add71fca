package web_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestVendorReproducible reruns build.sh (npm ci from the committed
// package-lock.json, then the copy) into a temporary folder and checks
// that it reproduces static/vendor byte for byte, file for file: the
// committed files are what the lockfile's integrity hashes pin, and cannot
// drift from it.
func TestVendorReproducible(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is missing: this test rebuilds the vendored files from the lockfile (Debian: apt-get install -y npm)")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "build.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	want := files(t, "static/vendor")
	got := files(t, out)
	if !slices.Equal(keys(want), keys(got)) {
		t.Fatalf("build.sh wrote %v, committed %v: run web/build.sh and commit", keys(got), keys(want))
	}
	for name, b := range want {
		if !bytes.Equal(b, got[name]) {
			t.Errorf("%s differs from what build.sh produces from the lockfile: run web/build.sh and commit", name)
		}
	}
	if len(want) < 5 {
		t.Fatalf("only %d vendored files", len(want))
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
