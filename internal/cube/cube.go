package cube

import (
	"fmt"
	"image"
)

// Cube is a rectangle of pixels with Bands float32 values each, stored
// band-interleaved-by-pixel.
type Cube struct {
	// Pix holds the values. The value of band b of pixel (x, y) is
	// Pix[(y-Rect.Min.Y)*Stride+(x-Rect.Min.X)*Bands+b].
	Pix []float32
	// Stride is the distance in Pix between vertically adjacent pixels.
	Stride int
	// Bands is the number of values per pixel.
	Bands int
	// Rect is the cube's bounds: X samples, Y lines.
	Rect image.Rectangle
}

// New returns a zeroed cube covering r with the given number of bands.
func New(r image.Rectangle, bands int) *Cube {
	if bands < 0 || r.Dx() < 0 || r.Dy() < 0 {
		panic(fmt.Sprintf("cube: New(%v, %d): negative size", r, bands))
	}
	stride := r.Dx() * bands
	return &Cube{Pix: make([]float32, stride*r.Dy()), Stride: stride, Bands: bands, Rect: r}
}

// PixOffset returns the index in Pix of band 0 of pixel (x, y).
func (c *Cube) PixOffset(x, y int) int {
	return (y-c.Rect.Min.Y)*c.Stride + (x-c.Rect.Min.X)*c.Bands
}

// At returns the spectrum of pixel (x, y), sharing memory with the cube, or
// nil if the pixel is outside the cube.
func (c *Cube) At(x, y int) []float32 {
	if !(image.Point{x, y}.In(c.Rect)) {
		return nil
	}
	i := c.PixOffset(x, y)
	return c.Pix[i : i+c.Bands : i+c.Bands]
}

// SubCube returns the part of c inside r, sharing pixels with c.
func (c *Cube) SubCube(r image.Rectangle) *Cube {
	r = r.Intersect(c.Rect)
	if r.Empty() {
		return &Cube{Bands: c.Bands}
	}
	i := c.PixOffset(r.Min.X, r.Min.Y)
	j := c.PixOffset(r.Max.X-1, r.Max.Y-1) + c.Bands
	return &Cube{Pix: c.Pix[i:j:j], Stride: c.Stride, Bands: c.Bands, Rect: r}
}

// Contiguous reports whether the cube's rows follow each other in Pix with no
// gap, so Pix[:Rect.Dx()*Rect.Dy()*Bands] is an N×Bands row-major matrix.
func (c *Cube) Contiguous() bool {
	return c.Stride == c.Rect.Dx()*c.Bands || c.Rect.Dy() <= 1
}

// Pixels returns the number of pixels in the cube.
func (c *Cube) Pixels() int { return c.Rect.Dx() * c.Rect.Dy() }

// Band copies band b of every pixel into dst (row-major over the rectangle)
// and returns it; dst is allocated if too short.
func (c *Cube) Band(b int, dst []float32) []float32 {
	n := c.Pixels()
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	w := c.Rect.Dx()
	for y := 0; y < c.Rect.Dy(); y++ {
		row := c.Pix[y*c.Stride:]
		for x := 0; x < w; x++ {
			dst[y*w+x] = row[x*c.Bands+b]
		}
	}
	return dst
}
