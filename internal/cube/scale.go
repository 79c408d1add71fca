package cube

// ScaleFactor returns the divisor that turns stored values into physical
// ones: the header's reflectance scale factor, or 1 if it has none.
func (h *Header) ScaleFactor() float64 {
	if h.ReflectanceScaleFactor == 0 {
		return 1
	}
	return h.ReflectanceScaleFactor
}

// Scale divides every value of c by the header's reflectance scale factor, in
// float32 (v / float32(factor)), which is exactly what Spectral Python's
// load() does by default (numpy divides a float32 array by a Python float in
// float32). It does nothing if the header has no scale factor or it is 1.
func (h *Header) Scale(c *Cube) {
	s := h.ScaleFactor()
	if s == 1 {
		return
	}
	d := float32(s)
	w := c.Rect.Dx() * c.Bands
	for y := 0; y < c.Rect.Dy(); y++ {
		row := c.Pix[y*c.Stride : y*c.Stride+w]
		for i, v := range row {
			row[i] = v / d
		}
	}
}
