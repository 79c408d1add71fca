package coverage

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// ErrFormat is wrapped by errors about a malformed index file.
var ErrFormat = errors.New("coverage: malformed index file")

// fileMagic starts an index file (docs/coverage.md, "Index file").
const fileMagic = "ATALAYA-COVERAGE-1\n"

type fileHeader struct {
	Options Options `json:"options"`
	Passes  []Pass  `json:"passes"`
	Tiles   int     `json:"tiles"`
}

// WriteTo writes the index: the magic line, a little-endian uint32 length
// and that many bytes of JSON header (options, passes, tile count), then per
// tile its uint64 key and its four arrays (float32 invVar, float32 best,
// uint32 last, uint16 count), little-endian.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	hdr, err := json.Marshal(fileHeader{Options: ix.opt, Passes: ix.passes, Tiles: len(ix.tiles)})
	if err != nil {
		return 0, err
	}
	cw.Write([]byte(fileMagic))
	binary.Write(cw, binary.LittleEndian, uint32(len(hdr)))
	cw.Write(hdr)
	for _, k := range slices.Sorted(maps.Keys(ix.tiles)) {
		t := ix.tiles[k]
		binary.Write(cw, binary.LittleEndian, k)
		binary.Write(cw, binary.LittleEndian, t.invVar)
		binary.Write(cw, binary.LittleEndian, t.best)
		binary.Write(cw, binary.LittleEndian, t.last)
		binary.Write(cw, binary.LittleEndian, t.count)
	}
	if cw.err != nil {
		return cw.n, cw.err
	}
	return cw.n, bw.Flush()
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Read reads an index written by WriteTo.
func Read(r io.Reader) (*Index, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != fileMagic {
		return nil, fmt.Errorf("%w: no %q magic", ErrFormat, fileMagic[:len(fileMagic)-1])
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil || n > 1<<30 {
		return nil, fmt.Errorf("%w: header length %d: %v", ErrFormat, n, err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	var h fileHeader
	if err := json.Unmarshal(buf, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	ix, err := New(h.Options)
	if err != nil {
		return nil, fmt.Errorf("%w: header options: %w", ErrFormat, err)
	}
	for _, p := range h.Passes {
		if _, err := ix.addPass(p); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	}
	cells := ix.side * ix.side
	for k := range h.Tiles {
		var key uint64
		if err := binary.Read(br, binary.LittleEndian, &key); err != nil {
			return nil, fmt.Errorf("%w: tile %d of %d: %w", ErrFormat, k, h.Tiles, err)
		}
		t := &tile{invVar: make([]float32, cells), best: make([]float32, cells), last: make([]uint32, cells), count: make([]uint16, cells)}
		for _, a := range []any{t.invVar, t.best, t.last, t.count} {
			if err := binary.Read(br, binary.LittleEndian, a); err != nil {
				return nil, fmt.Errorf("%w: tile %d of %d: %w", ErrFormat, k, h.Tiles, err)
			}
		}
		for c, l := range t.last {
			if int(l) > len(ix.passes) || (l == 0) != (t.count[c] == 0) {
				return nil, fmt.Errorf("%w: tile %d: cell %d refers to pass %d of %d", ErrFormat, k, c, l, len(ix.passes))
			}
		}
		ix.tiles[key] = t
	}
	return ix, nil
}
