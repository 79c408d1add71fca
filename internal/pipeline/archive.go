package pipeline

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A cube granule is stored as one blob: a tar stream of exactly two
// entries, the ENVI header then the data file, under fixed names and with
// fixed metadata (mode 0644, owner 0, modification time the Unix epoch), so
// the same header and data bytes always make the same stream. The granule's
// SHA-256 is that of the stream, and its blob key is "cube/<sha256>.tar".
const (
	archiveHeader = "granule.hdr"
	archiveData   = "granule.img"
)

// ErrArchive is wrapped by errors about a malformed granule archive.
var ErrArchive = errors.New("pipeline: bad granule archive")

func cubeKey(sha string) string { return "cube/" + sha + ".tar" }

// writeCubeArchive writes the archive of the cube at hdr/data to w and
// returns its size in bytes.
func writeCubeArchive(w io.Writer, hdr, data string) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, e := range []struct{ name, path string }{{archiveHeader, hdr}, {archiveData, data}} {
		if err := addFile(tw, e.name, e.path); err != nil {
			return cw.n, err
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: name, Size: st.Size(), Mode: 0o644, ModTime: time.Unix(0, 0),
	}); err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	if n != st.Size() {
		return fmt.Errorf("archive %s: %d bytes read, %d expected: the file changed", path, n, st.Size())
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// hashCubeArchive returns the SHA-256 (hex) and size of the cube's archive
// without storing it.
func hashCubeArchive(hdr, data string) (string, int64, error) {
	h := sha256.New()
	n, err := writeCubeArchive(h, hdr, data)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// extractCubeArchive streams an archive into dir and returns the header's
// path there. It accepts only the two expected entries, and checks the
// stream's SHA-256 against want (hex) when want is not empty.
func extractCubeArchive(r io.Reader, dir, want string) (string, error) {
	h := sha256.New()
	tee := io.TeeReader(r, h)
	tr := tar.NewReader(tee)
	seen := map[string]bool{}
	for {
		th, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrArchive, err)
		}
		if th.Typeflag != tar.TypeReg || (th.Name != archiveHeader && th.Name != archiveData) || seen[th.Name] {
			return "", fmt.Errorf("%w: entry %q (type %c): want %s and %s once each", ErrArchive, th.Name, th.Typeflag, archiveHeader, archiveData)
		}
		seen[th.Name] = true
		f, err := os.Create(filepath.Join(dir, th.Name))
		if err != nil {
			return "", err
		}
		n, err := io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("extract %s: %w", th.Name, err)
		}
		if n != th.Size {
			return "", fmt.Errorf("%w: %s: %d of %d bytes", ErrArchive, th.Name, n, th.Size)
		}
	}
	if !seen[archiveHeader] || !seen[archiveData] {
		return "", fmt.Errorf("%w: want %s and %s, got %v", ErrArchive, archiveHeader, archiveData, seen)
	}
	// Read the rest (tar padding) so the hash covers the whole stream.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", fmt.Errorf("%w: %w", ErrArchive, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		return "", fmt.Errorf("%w: SHA-256 %s, the store recorded %s", ErrArchive, got, want)
	}
	return filepath.Join(dir, archiveHeader), nil
}
