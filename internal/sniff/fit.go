package sniff

import "math"

// Trace is a processed channel against the fitted plume, for plots: at
// each sample the likelihood used (about one per smoothing σ), the time
// (s since the series' start), the measured concentration (baseline
// removed, lag corrected; the channel's ppm) and the ensemble-mean
// concentration the Gaussian plume predicts there for a source at the
// posterior mean position emitting the posterior mean rate, averaged over
// the posterior of stability class and release height, in the mean wind.
type Trace struct {
	T   []float64 `json:"t"`
	PPM []float64 `json:"ppm"`
	Fit []float64 `json:"fit"`
}

// Trace returns the measured trace against the fitted plume.
func (p *Posterior) Trace() Trace {
	m := p.model
	if m == nil {
		return Trace{}
	}
	d := &m.dat
	tr := Trace{T: append([]float64(nil), d.t...), PPM: append([]float64(nil), d.d...), Fit: make([]float64, len(d.d))}
	q := p.RateKgH / 3600
	b2 := m.broaden * m.broaden
	for i := range d.e {
		de, dn := d.e[i]-p.Mean.East, d.n[i]-p.Mean.North
		x := de*m.dE + dn*m.dN
		if x <= 0 || d.z[i] < 0 {
			continue
		}
		y := -de*m.dN + dn*m.dE
		xe := math.Max(x, 1)
		var c float64
		for ci, class := range m.classes {
			sy, sz, _ := briggs(class, xe)
			v := sy*sy + x*x*b2 + d.b2[i]
			cross := math.Exp(-y*y/(2*v)) / math.Sqrt(2*math.Pi*v)
			sz2 := sz*sz + m.binVar[ci]
			for ch := m.chStart[ci]; ch < m.chStart[ci+1]; ch++ {
				h, z := m.chH[ch], d.z[i]
				vert := (math.Exp(-(z-h)*(z-h)/(2*sz2)) + math.Exp(-(z+h)*(z+h)/(2*sz2))) / math.Sqrt(2*math.Pi*sz2)
				c += p.chW[ch] * q * m.k / m.u * cross * vert
			}
		}
		if !math.IsNaN(c) && !math.IsInf(c, 0) { // JSON has no NaN: an unusable fit reads 0
			tr.Fit[i] = c
		}
	}
	return tr
}
