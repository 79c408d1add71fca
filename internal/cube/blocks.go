package cube

import (
	"fmt"
	"image"
	"iter"
)

// Blocks returns an iterator over the cube in successive blocks of lines:
// lines [0, n), [n, 2n), …, the last block holding what remains, with n the
// smaller of lines and the cube's line count. Each block is a *Cube whose
// Rect gives its lines in file coordinates.
//
// Every block shares one buffer of n lines: a block is valid only until the
// loop asks for the next one (copy what must outlive it). Memory is therefore
// bounded by the block size (n × samples × bands float32 values, plus the
// File's raw read buffer, see ReadLines) whatever the interleave.
//
// On an error the iterator yields (nil, err) once and stops. lines < 1 is an
// error. The File must not be used by anything else while a loop runs.
//
//	for blk, err := range f.Blocks(64) {
//		if err != nil {
//			return err
//		}
//		process(blk)
//	}
func (f *File) Blocks(lines int) iter.Seq2[*Cube, error] {
	return func(yield func(*Cube, error) bool) {
		h := f.Header
		if lines < 1 {
			yield(nil, fmt.Errorf("cube: Blocks(%d): want at least one line per block", lines))
			return
		}
		n := min(lines, h.Lines)
		buf := New(image.Rect(0, 0, h.Samples, n), h.Bands)
		for y := 0; y < h.Lines; y += n {
			m := min(n, h.Lines-y)
			c := &Cube{Pix: buf.Pix[:m*buf.Stride], Stride: buf.Stride, Bands: h.Bands, Rect: image.Rect(0, y, h.Samples, y+m)}
			if err := f.ReadLines(c); err != nil {
				yield(nil, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}
