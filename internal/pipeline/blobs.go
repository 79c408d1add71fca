package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrBlobNotFound is returned when no blob has the key (or URI).
var ErrBlobNotFound = errors.New("pipeline: blob not found")

// Blobs holds granule bytes where every worker that needs them can read
// them. Keys are slash-separated relative paths ("cube/<sha256>.tar"); a
// blob, once written, is never changed (keys are content addresses).
type Blobs interface {
	// Put stores the bytes read from r under key, replacing any blob there;
	// a failed Put leaves no blob.
	Put(ctx context.Context, key string, r io.Reader) error
	// Get streams the blob; the caller closes it. A blob whose stored bytes
	// are corrupt fails while being read.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Exists reports whether a complete blob is stored under key.
	Exists(ctx context.Context, key string) (bool, error)
	// URI is how the store records where the blob is: file:///… for a
	// folder, nats-object://BUCKET/KEY for the JetStream object store.
	URI(key string) string
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key || strings.HasPrefix(key, "../") || key == ".." || strings.ContainsRune(key, '\\') {
		return fmt.Errorf("blob key %q: want a clean relative slash-separated path", key)
	}
	return nil
}

// Dir keeps blobs as files under a folder: the default on one machine (and
// for workers that share the folder over a network file system).
type Dir struct {
	root string
}

// NewDir returns blobs kept under root, creating it.
func NewDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob folder %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("blob folder: %w", err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes a temporary file beside the blob, fsyncs it and renames it
// into place, so a blob is either whole or absent.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	if dir, err := os.Open(filepath.Dir(p)); err == nil { // make the rename durable
		_ = dir.Sync()
		_ = dir.Close()
	}
	return nil
}

// Get opens the blob's file.
func (d *Dir) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

func openFile(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, p)
	}
	return f, err
}

// Exists reports whether the blob's file is there.
func (d *Dir) Exists(_ context.Context, key string) (bool, error) {
	p, err := d.path(key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// URI is the blob's file URL.
func (d *Dir) URI(key string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(d.root, filepath.FromSlash(key)))}).String()
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DefaultBucket is the object-store bucket granule bytes go to.
const DefaultBucket = "atalaya-granules"

// DefaultPartSize bounds how much of a blob is in flight at once in the
// object store (see ObjectStore).
const DefaultPartSize = 32 << 20

// ObjectStore keeps blobs in a NATS JetStream object store, for workers on
// other machines with no shared disk.
//
// The client library's Put publishes 128 KiB chunks asynchronously, and up
// to 4000 of them may wait for their acknowledgements (the async-publish
// window), so one Put of a multi-GB cube could hold ~500 MiB in flight. A
// blob is therefore stored as parts of at most PartSize bytes, each an
// object of its own ("KEY.part-00000", …), written one after the other, and
// then a manifest object under KEY itself ({"parts":n,"size":bytes}),
// written last: a blob exists when its manifest does. Get streams the parts
// in order, opening the next only when the previous one is read.
type ObjectStore struct {
	obs      jetstream.ObjectStore
	bucket   string
	partSize int64
}

// ObjectStoreConfig configures the bucket.
type ObjectStoreConfig struct {
	Bucket   string // default DefaultBucket
	Replicas int    // default 1; 3 on a cluster
	PartSize int64  // default DefaultPartSize
}

// NewObjectStore opens (creating it if need be) the bucket.
func NewObjectStore(ctx context.Context, js jetstream.JetStream, cfg ObjectStoreConfig) (*ObjectStore, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Bucket,
			Description: "Atalaya granule bytes",
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Bucket, err)
	}
	return &ObjectStore{obs: obs, bucket: cfg.Bucket, partSize: cfg.PartSize}, nil
}

type manifest struct {
	Parts int   `json:"parts"`
	Size  int64 `json:"size"`
}

func partName(key string, i int) string { return fmt.Sprintf("%s.part-%05d", key, i) }

// Put stores r as parts, then the manifest.
func (o *ObjectStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	br := bufio.NewReader(r)
	var m manifest
	for {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) && m.Parts > 0 {
			break
		} else if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("put blob %s: %w", key, err)
		}
		info, err := o.obs.Put(ctx, jetstream.ObjectMeta{Name: partName(key, m.Parts)}, io.LimitReader(br, o.partSize))
		if err != nil {
			return fmt.Errorf("put blob %s: part %d: %w", key, m.Parts, err)
		}
		m.Parts++
		m.Size += int64(info.Size)
	}
	b, _ := json.Marshal(m)
	if _, err := o.obs.PutBytes(ctx, key, b); err != nil {
		return fmt.Errorf("put blob %s: manifest: %w", key, err)
	}
	return nil
}

func (o *ObjectStore) manifest(ctx context.Context, key string) (manifest, error) {
	var m manifest
	b, err := o.obs.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return m, fmt.Errorf("%w: %s", ErrBlobNotFound, o.URI(key))
	}
	if err != nil {
		return m, fmt.Errorf("get blob %s: manifest: %w", key, err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Parts <= 0 {
		return m, fmt.Errorf("get blob %s: manifest %q: want {\"parts\": n > 0, \"size\": bytes}", key, b)
	}
	return m, nil
}

// Get streams the blob's parts in order.
func (o *ObjectStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	m, err := o.manifest(ctx, key)
	if err != nil {
		return nil, err
	}
	return &partReader{ctx: ctx, o: o, key: key, m: m}, nil
}

// Exists reports whether the blob's manifest is there.
func (o *ObjectStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	_, err := o.obs.GetInfo(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

// URI is nats-object://BUCKET/KEY.
func (o *ObjectStore) URI(key string) string {
	return "nats-object://" + o.bucket + "/" + key
}

// partReader reads a blob's parts one after the other.
type partReader struct {
	ctx  context.Context
	o    *ObjectStore
	key  string
	m    manifest
	next int
	cur  jetstream.ObjectResult
	read int64
}

func (p *partReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if p.next == p.m.Parts {
				if p.read != p.m.Size {
					return 0, fmt.Errorf("get blob %s: read %d bytes, manifest says %d", p.key, p.read, p.m.Size)
				}
				return 0, io.EOF
			}
			r, err := p.o.obs.Get(p.ctx, partName(p.key, p.next))
			if err != nil {
				return 0, fmt.Errorf("get blob %s: part %d: %w", p.key, p.next, err)
			}
			p.cur = r
			p.next++
		}
		n, err := p.cur.Read(b)
		p.read += int64(n)
		if errors.Is(err, io.EOF) {
			// The object result checks the part's SHA-256 digest before
			// returning EOF; a mismatch is an error, not EOF.
			_ = p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("get blob %s: part %d: %w", p.key, p.next-1, err)
		}
		return n, nil
	}
}

func (p *partReader) Close() error {
	if p.cur != nil {
		err := p.cur.Close()
		p.cur = nil
		return err
	}
	return nil
}

// OpenURI opens a blob by the URI the store recorded: file:///PATH (the
// folder must be readable here: the same machine or a shared file system)
// or nats-object://BUCKET/KEY (read through js, which may be nil when no
// NATS connection is at hand).
func OpenURI(ctx context.Context, uri string, js jetstream.JetStream) (io.ReadCloser, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("blob uri %q: %w", uri, err)
	}
	switch u.Scheme {
	case "file":
		return openFile(filepath.FromSlash(u.Path))
	case "nats-object":
		if js == nil {
			return nil, fmt.Errorf("blob %s: no NATS connection to read it through", uri)
		}
		o, err := NewObjectStore(ctx, js, ObjectStoreConfig{Bucket: u.Host})
		if err != nil {
			return nil, err
		}
		return o.Get(ctx, strings.TrimPrefix(u.Path, "/"))
	default:
		return nil, fmt.Errorf("blob uri %q: want file:///PATH or nats-object://BUCKET/KEY", uri)
	}
}
