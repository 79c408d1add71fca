package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
)

// ErrBadUpload is wrapped by an Ingester's errors about the uploaded
// bytes themselves (answered 400, and the upload is discarded).
var ErrBadUpload = errors.New("server: bad upload")

// PipelineIngester ingests uploads through internal/pipeline.
type PipelineIngester struct {
	In *pipeline.Ingester
	// OnIngest is told each ingested granule (e.g. to publish its event).
	OnIngest func(pipeline.Ingested)
}

// IngestArchive implements Ingester.
func (p PipelineIngester) IngestArchive(ctx context.Context, path, name string) (store.Granule, bool, error) {
	res, err := p.In.IngestArchive(ctx, path, name)
	if err != nil {
		if errors.Is(err, pipeline.ErrArchive) || errors.Is(err, cube.ErrFormat) || errors.Is(err, cube.ErrUnsupported) {
			return store.Granule{}, false, fmt.Errorf("%w: %w", ErrBadUpload, err)
		}
		return store.Granule{}, false, err
	}
	if p.OnIngest != nil {
		p.OnIngest(res)
	}
	return res.Granule, res.Created, nil
}

// uploads spools resumable uploads on disk: <id>.part holds the bytes
// received, <id>.json who started it, its name and length.
type uploads struct {
	dir   string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

type uploadMeta struct {
	ID      string    `json:"id"`
	UserID  string    `json:"user_id"`
	Agency  string    `json:"agency_id"`
	Name    string    `json:"name"`
	Length  int64     `json:"length"`
	Offset  int64     `json:"offset"`
	Created time.Time `json:"created"`
}

func newUploads(dir string) (*uploads, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("server: upload folder: %w", err)
	}
	return &uploads{dir: dir, locks: map[string]*sync.Mutex{}}, nil
}

var uploadID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (u *uploads) lock(id string) func() {
	u.mu.Lock()
	l := u.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		u.locks[id] = l
	}
	u.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (u *uploads) part(id string) string { return filepath.Join(u.dir, id+".part") }
func (u *uploads) meta(id string) string { return filepath.Join(u.dir, id+".json") }

func (u *uploads) load(id string, p Principal) (uploadMeta, error) {
	var m uploadMeta
	if !uploadID.MatchString(id) {
		return m, notFound("no upload %q", id)
	}
	b, err := os.ReadFile(u.meta(id))
	if errors.Is(err, os.ErrNotExist) {
		return m, notFound("no upload %q", id)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("upload %s: %w", id, err)
	}
	if m.UserID != p.UserID {
		return m, notFound("no upload %q", id) // someone else's
	}
	st, err := os.Stat(u.part(id))
	if err != nil {
		return m, err
	}
	m.Offset = st.Size()
	return m, nil
}

func (u *uploads) remove(id string) {
	_ = os.Remove(u.part(id))
	_ = os.Remove(u.meta(id))
	u.mu.Lock()
	delete(u.locks, id)
	u.mu.Unlock()
}

// safeName checks an upload's name: it is only a label (the spool file is
// named by the upload id), but it is shown and logged, so it is one plain
// file name.
func safeName(name string) error {
	switch {
	case name == "":
		return invalid("name", "empty: name the file, ?name=flight1.tar")
	case len(name) > 255:
		return invalid("name", "longer than 255 bytes")
	case !utf8.ValidString(name):
		return invalid("name", "not UTF-8")
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`):
		return invalid("name", "%q: want a plain file name, no folders", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("name", "%q: control characters", name)
		}
	}
	return nil
}

// uploadResponse is what upload requests answer.
type uploadResponse struct {
	Upload struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Offset   int64  `json:"offset"`
		Length   int64  `json:"length"`
		Complete bool   `json:"complete"`
	} `json:"upload"`
	Granule *GranuleJSON `json:"granule,omitempty"`
	Created bool         `json:"created,omitempty"`
}

// createUpload starts an upload (POST /granules?name=N with Upload-Length)
// and appends the request's body, if any.
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.cfg.Ingest == nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "", "this process ingests nothing: upload to one that does")
	}
	q := r.URL.Query()
	for k := range q {
		if k != "name" {
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	name := q.Get("name")
	if err := safeName(name); err != nil {
		return err
	}
	ls := r.Header.Get("Upload-Length")
	if ls == "" {
		return invalid("Upload-Length", "missing: send the file's size in bytes")
	}
	length, err := strconv.ParseInt(ls, 10, 64)
	if err != nil || length < 1 {
		return invalid("Upload-Length", "%q: want a positive integer", ls)
	}
	if length > s.cfg.MaxUpload {
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "Upload-Length", "%d bytes: the limit is %d", length, s.cfg.MaxUpload)
	}
	var idb [16]byte
	_, _ = rand.Read(idb[:])
	m := uploadMeta{ID: hex.EncodeToString(idb[:]), UserID: c.p.UserID, Agency: c.p.AgencyID, Name: name, Length: length, Created: s.cfg.Now().UTC()}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(s.uploads.meta(m.ID), b, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(s.uploads.part(m.ID), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		s.uploads.remove(m.ID)
		return err
	}
	_ = f.Close()
	c.object = "upload/" + m.ID
	unlock := s.uploads.lock(m.ID)
	defer unlock()
	return s.appendUpload(w, r, c, m, true)
}

// patchUpload appends to an upload at Upload-Offset.
func (s *Server) patchUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("id")
	c.object = "upload/" + id
	unlock := s.uploads.lock(id)
	defer unlock()
	m, err := s.uploads.load(id, c.p)
	if err != nil {
		return err
	}
	offh := r.Header.Get("Upload-Offset")
	off, err := strconv.ParseInt(offh, 10, 64)
	if err != nil || off < 0 {
		return invalid("Upload-Offset", "%q: want the offset HEAD reports", offh)
	}
	if off != m.Offset {
		w.Header().Set("Upload-Offset", strconv.FormatInt(m.Offset, 10))
		return errorf(http.StatusConflict, CodeConflict, "Upload-Offset", "the upload is at byte %d, not %d: resume from there", m.Offset, off)
	}
	return s.appendUpload(w, r, c, m, false)
}

// headUpload reports an upload's offset and length.
func (s *Server) headUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	m, err := s.uploads.load(r.PathValue("id"), c.p)
	if err != nil {
		return err
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(m.Offset, 10))
	w.Header().Set("Upload-Length", strconv.FormatInt(m.Length, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// appendUpload streams the body onto the upload's file (never more than
// a buffer in memory), fsyncs, and ingests the upload once complete.
func (s *Server) appendUpload(w http.ResponseWriter, r *http.Request, c *call, m uploadMeta, created bool) error {
	f, err := os.OpenFile(s.uploads.part(m.ID), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	room := m.Length - m.Offset
	body := http.MaxBytesReader(w, r.Body, room)
	n, cerr := io.Copy(f, body)
	var mbe *http.MaxBytesError
	if errors.As(cerr, &mbe) {
		// More bytes than declared: keep none of this request's.
		_ = f.Truncate(m.Offset)
		_ = f.Close()
		if created {
			s.uploads.remove(m.ID)
		}
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "body", "more than the %d bytes left of Upload-Length %d", room, m.Length)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	m.Offset += n
	loc := "/api/v1/uploads/" + m.ID
	w.Header().Set("Upload-Offset", strconv.FormatInt(m.Offset, 10))
	w.Header().Set("Upload-Length", strconv.FormatInt(m.Length, 10))
	var resp uploadResponse
	resp.Upload.ID, resp.Upload.Name, resp.Upload.Offset, resp.Upload.Length = m.ID, m.Name, m.Offset, m.Length
	c.detail = map[string]any{"upload": m.ID, "name": m.Name, "offset": m.Offset, "length": m.Length}
	if cerr != nil || m.Offset < m.Length {
		// The connection broke, or the client sends the rest later: keep
		// what arrived; HEAD tells where to resume.
		w.Header().Set("Location", loc)
		status := http.StatusAccepted
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, status, resp)
		return nil
	}
	g, isNew, err := s.cfg.Ingest.IngestArchive(r.Context(), s.uploads.part(m.ID), m.Name)
	s.uploads.remove(m.ID)
	if errors.Is(err, ErrBadUpload) {
		return invalid("body", "%v", err)
	}
	if err != nil {
		return err
	}
	gj := granuleJSON(g)
	resp.Upload.Complete, resp.Granule, resp.Created = true, &gj, isNew
	c.detail["granule"] = g.ID
	if isNew {
		s.PublishGranule(r.Context(), gj, c.p.AgencyID)
	}
	w.Header().Set("Location", "/api/v1/granules/"+g.ID)
	status := http.StatusOK
	if isNew {
		status = http.StatusCreated
	}
	writeJSON(w, status, resp)
	return nil
}

// purge removes uploads started before cutoff (abandoned: never finished)
// and returns how many.
func (u *uploads) purge(cutoff time.Time) (int, error) {
	ents, err := os.ReadDir(u.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !uploadID.MatchString(id) {
			continue
		}
		unlock := u.lock(id)
		b, err := os.ReadFile(u.meta(id))
		var m uploadMeta
		if err == nil && json.Unmarshal(b, &m) == nil && m.Created.Before(cutoff) {
			u.remove(id)
			n++
		}
		unlock()
	}
	return n, nil
}
