package plume

import (
	"fmt"
	"math"
	"sort"
)

// Component is one connected plume in a score map.
type Component struct {
	// Pixels are the indices y*W+x of the component's pixels, in ascending order.
	Pixels []int
	// Peak is the index of the pixel with the highest score, and PeakScore its score.
	Peak      int
	PeakScore float32
	// Min and Max bound the component's pixels: Min.X ≤ x < Max.X and so on.
	MinX, MinY, MaxX, MaxY int
}

// Segment finds the connected components (8-neighbourhood) of pixels whose
// score is at least low, keeping those that contain a pixel at or above high.
// Components are returned by descending peak score. It panics if len(score)
// != w*h or low > high (programmer errors).
func Segment(score []float32, w, h int, high, low float32) []Component {
	if len(score) != w*h {
		panic(fmt.Sprintf("plume: Segment: %d scores for %d×%d", len(score), w, h))
	}
	if low > high {
		panic(fmt.Sprintf("plume: Segment: low %g above high %g", low, high))
	}
	label := make([]int32, len(score)) // 0 unvisited, -1 visited and out
	var comps []Component
	var stack []int
	for seed, s := range score {
		if label[seed] != 0 || !(s >= high) {
			continue
		}
		id := int32(len(comps) + 1)
		c := Component{Peak: seed, PeakScore: s, MinX: w, MinY: h}
		stack = append(stack[:0], seed)
		label[seed] = id
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c.Pixels = append(c.Pixels, p)
			x, y := p%w, p/w
			c.MinX, c.MinY = min(c.MinX, x), min(c.MinY, y)
			c.MaxX, c.MaxY = max(c.MaxX, x+1), max(c.MaxY, y+1)
			if score[p] > c.PeakScore {
				c.Peak, c.PeakScore = p, score[p]
			}
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w || (dx == 0 && dy == 0) {
						continue
					}
					q := yy*w + xx
					if label[q] == 0 && score[q] >= low {
						label[q] = id
						stack = append(stack, q)
					}
				}
			}
		}
		sort.Ints(c.Pixels)
		comps = append(comps, c)
	}
	sort.SliceStable(comps, func(i, j int) bool { return comps[i].PeakScore > comps[j].PeakScore })
	return comps
}

// Point is a position in pixel coordinates.
type Point struct{ X, Y float64 }

// Hull returns the convex hull of the component's pixel squares,
// counter-clockwise in a y-up frame (clockwise on the image), closed (first
// point repeated last).
func (c *Component) Hull(w int) []Point {
	pts := make([]Point, 0, 4*len(c.Pixels))
	for _, p := range c.Pixels {
		x, y := float64(p%w), float64(p/w)
		pts = append(pts, Point{x, y}, Point{x + 1, y}, Point{x + 1, y + 1}, Point{x, y + 1})
	}
	return convexHull(pts)
}

// convexHull is Andrew's monotone chain.
func convexHull(pts []Point) []Point {
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].X != pts[j].X {
			return pts[i].X < pts[j].X
		}
		return pts[i].Y < pts[j].Y
	})
	cross := func(o, a, b Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	var hull []Point
	for _, p := range pts {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	return hull // the last point equals the first
}

// Centroid returns the weighted centre of the component in pixel coordinates
// (pixel centres at +0.5), weighting each pixel by weight[p] where it is
// positive and finite; with no positive weight, the plain centre.
func (c *Component) Centroid(w int, weight []float32) Point {
	var sx, sy, sw float64
	for _, p := range c.Pixels {
		v := 1.0
		if weight != nil {
			v = float64(weight[p])
			if !(v > 0) || math.IsInf(v, 0) {
				continue
			}
		}
		sx += v * (float64(p%w) + 0.5)
		sy += v * (float64(p/w) + 0.5)
		sw += v
	}
	if sw == 0 {
		if weight != nil {
			return c.Centroid(w, nil)
		}
		return Point{}
	}
	return Point{sx / sw, sy / sw}
}
