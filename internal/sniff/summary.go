package sniff

import (
	"math"
	"slices"
	"sort"
)

// chi2x95 is the 95 % quantile of χ² with two degrees of freedom, −2 ln 0.05:
// the squared Mahalanobis radius of a 95 % ellipse of a bivariate normal.
const chi2x95 = 5.991464547107979

func (p *Posterior) summarise(lnQ, lnCH [][]float64, area float64, m *model, o Options) {
	n := len(p.Cells)
	nq := len(m.qs)
	// Posterior mass of each cell ∝ its area × marginal likelihood ratio
	// (uniform prior in area).
	lnMass := make([]float64, n)
	for i, c := range p.Cells {
		lnMass[i] = c.LogLR + 2*math.Log(c.Size)
	}
	lnTot := logSumExp(lnMass)
	p.LogBayesFactor = lnTot - math.Log(area)
	po := o.PriorSource
	// P(source | data) = BF·π / (BF·π + 1 − π), computed stably.
	p.ProbSource = 1 / (1 + math.Exp(-(p.LogBayesFactor + math.Log(po/(1-po)))))
	p.Claim = p.LogBayesFactor > o.ClaimLogBF

	best := math.Inf(-1)
	var me, mn float64
	for i := range p.Cells {
		c := &p.Cells[i]
		c.Prob = math.Exp(lnMass[i] - lnTot)
		me += c.Prob * c.East
		mn += c.Prob * c.North
		if c.LogLR > best {
			best = c.LogLR
			p.MAP = Point{c.East, c.North}
		}
	}
	p.Mean = Point{me, mn}
	var cee, cen, cnn float64
	for _, c := range p.Cells {
		de, dn := c.East-me, c.North-mn
		// A cell's own spread, a uniform square: side²/12 per axis.
		w := c.Size * c.Size / 12
		cee += c.Prob * (de*de + w)
		cnn += c.Prob * (dn*dn + w)
		cen += c.Prob * de * dn
	}
	p.Cov = [2][2]float64{{cee, cen}, {cen, cnn}}
	p.Ellipse = ellipse(p.Mean, p.Cov)

	// 95 % HPD set: densest cells first.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p.Cells[idx[a]].LogLR > p.Cells[idx[b]].LogLR })
	var acc float64
	var corners []Point
	for _, i := range idx {
		c := &p.Cells[i]
		c.HPD = true
		h := c.Size / 2
		corners = append(corners, Point{c.East - h, c.North - h}, Point{c.East + h, c.North - h},
			Point{c.East + h, c.North + h}, Point{c.East - h, c.North + h})
		acc += c.Prob
		if acc >= 0.95 {
			break
		}
	}
	p.Region = convexHull(corners)

	// Emission rate marginal.
	p.QGrid = make([]float64, nq)
	p.QProb = make([]float64, nq)
	lnQm := make([]float64, nq)
	for j := range nq {
		v := make([]float64, n)
		for i := range p.Cells {
			v[i] = lnQ[i][j] + 2*math.Log(p.Cells[i].Size)
		}
		lnQm[j] = logSumExp(v)
		p.QGrid[j] = m.qs[j] * 3600
	}
	lq := logSumExp(lnQm)
	bestQ := 0
	for j := range nq {
		p.QProb[j] = math.Exp(lnQm[j] - lq)
		if p.QProb[j] > p.QProb[bestQ] {
			bestQ = j
		}
	}
	p.RateModeKgH = p.QGrid[bestQ]
	p.RateLoKgH = gridQuantile(p.QGrid, p.QProb, 0.025)
	p.RateKgH = gridQuantile(p.QGrid, p.QProb, 0.5)
	p.RateHiKgH = gridQuantile(p.QGrid, p.QProb, 0.975)

	// Class and height marginals.
	lnCHm := make([]float64, m.nch())
	for ch := range m.nch() {
		v := make([]float64, n)
		for i := range p.Cells {
			v[i] = lnCH[i][ch] + 2*math.Log(p.Cells[i].Size)
		}
		lnCHm[ch] = logSumExp(v) + m.chLnP[ch]
	}
	lch := logSumExp(lnCHm)
	p.ClassProb = map[string]float64{}
	hs := append([]float64(nil), m.chH...)
	sort.Float64s(hs)
	p.HeightsM = slices.Compact(hs)
	p.HeightProb = make([]float64, len(p.HeightsM))
	p.model, p.chW = m, make([]float64, m.nch())
	for ch := range m.nch() {
		w := math.Exp(lnCHm[ch] - lch)
		p.chW[ch] = w
		p.ClassProb[m.classes[m.chClass[ch]]] += w
		k, _ := slices.BinarySearch(p.HeightsM, m.chH[ch])
		p.HeightProb[k] += w
	}
}

// gridQuantile is the q-quantile of a distribution given on a log-spaced
// grid, each node standing for the bin around it, interpolated in log.
func gridQuantile(grid, prob []float64, q float64) float64 {
	if len(grid) == 1 {
		return grid[0]
	}
	r := math.Log(grid[1] / grid[0])
	acc := 0.0
	for j, pr := range prob {
		if acc+pr >= q {
			f := (q - acc) / pr
			return grid[j] * math.Exp((f-0.5)*r)
		}
		acc += pr
	}
	return grid[len(grid)-1]
}

// ellipse is the 95 % ellipse of a bivariate normal of covariance c.
func ellipse(centre Point, c [2][2]float64) Ellipse {
	a, b, d := c[0][0], c[0][1], c[1][1]
	tr, det := a+d, a*d-b*b
	disc := math.Sqrt(math.Max(tr*tr/4-det, 0))
	l1, l2 := tr/2+disc, math.Max(tr/2-disc, 0)
	// Eigenvector of l1: (b, l1 − a) or (l1 − d, b), in (east, north).
	ve, vn := b, l1-a
	if math.Abs(ve)+math.Abs(vn) < 1e-12 {
		ve, vn = l1-d, b
	}
	if math.Abs(ve)+math.Abs(vn) < 1e-12 {
		ve, vn = 1, 0
	}
	az := math.Mod(math.Atan2(ve, vn)*180/math.Pi+360, 180)
	return Ellipse{Centre: centre, Major: math.Sqrt(chi2x95 * l1), Minor: math.Sqrt(chi2x95 * l2), AzimuthDeg: az}
}

// convexHull returns the convex hull of points, counter-clockwise (Andrew's
// monotone chain).
func convexHull(pts []Point) []Point {
	if len(pts) < 3 {
		return pts
	}
	ps := append([]Point(nil), pts...)
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].East != ps[j].East {
			return ps[i].East < ps[j].East
		}
		return ps[i].North < ps[j].North
	})
	cross := func(o, a, b Point) float64 {
		return (a.East-o.East)*(b.North-o.North) - (a.North-o.North)*(b.East-o.East)
	}
	var h []Point
	for _, p := range ps {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(ps) - 2; i >= 0; i-- {
		p := ps[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	return h[:len(h)-1]
}

// Contains reports whether a point is inside the credible region.
func (p *Posterior) Contains(q Point) bool {
	return inConvex(p.Region, q)
}

// InHPD reports whether a point falls in a cell of the 95 % HPD set (a
// tighter test than Contains).
func (p *Posterior) InHPD(q Point) bool {
	for _, c := range p.Cells {
		h := c.Size / 2
		if q.East >= c.East-h && q.East < c.East+h && q.North >= c.North-h && q.North < c.North+h {
			return c.HPD
		}
	}
	return false
}

func inConvex(poly []Point, q Point) bool {
	if len(poly) < 3 {
		return false
	}
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (b.East-a.East)*(q.North-a.North)-(b.North-a.North)*(q.East-a.East) < 0 {
			return false
		}
	}
	return true
}
