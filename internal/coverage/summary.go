package coverage

import (
	"math"
	"time"

	"github.com/paulmach/orb"
)

// Stats summarise the cells of an area.
type Stats struct {
	Cells         int     `json:"cells"`
	SurveyedCells int     `json:"surveyed_cells"`
	AreaKm2       float64 `json:"area_km2"`
	SurveyedKm2   float64 `json:"surveyed_km2"`
	// MeanPasses is the mean number of passes over the surveyed cells;
	// MaxPasses the most over any cell.
	MeanPasses float64 `json:"mean_passes"`
	MaxPasses  int     `json:"max_passes"`
	// AccMDL quantiles (kg/h) over the surveyed area, from a histogram of
	// 40 bins a decade (±3 %): the best, the median and the 90th percentile
	// (the MDL that 90 % of the surveyed area reaches or beats).
	BestAccMDL   float64 `json:"best_acc_mdl_kgh"`
	MedianAccMDL float64 `json:"median_acc_mdl_kgh"`
	P90AccMDL    float64 `json:"p90_acc_mdl_kgh"`
	// Oldest and Newest are the earliest and latest last-look times over the
	// surveyed cells.
	Oldest time.Time `json:"oldest_last_look"`
	Newest time.Time `json:"newest_last_look"`
}

// histogram of MDLs: 40 bins a decade from 10⁻⁶ to 10⁶ kg/h.
const (
	histPerDecade = 40
	histMinExp    = -6
	histBins      = 12 * histPerDecade
)

func histBin(v float64) int {
	b := int(math.Floor((math.Log10(v) - histMinExp) * histPerDecade))
	return min(max(b, 0), histBins-1)
}

func histValue(b int) float64 { return math.Pow(10, histMinExp+(float64(b)+0.5)/histPerDecade) }

// Summary returns the statistics of the cells whose centres lie inside area.
func (ix *Index) Summary(area orb.Polygon) (Stats, error) {
	var s Stats
	var hist [histBins]float64
	var passes float64
	oldest, newest := int64(math.MaxInt64), int64(math.MinInt64)
	s.BestAccMDL = math.Inf(1)
	err := ix.visitRuns(area, func(f, j, i0, i1 int, t *tile, k0 int) {
		for i := i0; i <= i1; i++ {
			a := ix.g.area(i, j)
			s.Cells++
			s.AreaKm2 += a
			if t == nil {
				continue
			}
			k := k0 + i - i0
			n := t.count[k]
			if n == 0 {
				continue
			}
			s.SurveyedCells++
			s.SurveyedKm2 += a
			passes += float64(n) * a
			s.MaxPasses = max(s.MaxPasses, int(n))
			acc := ix.opt.Threshold / math.Sqrt(float64(t.invVar[k]))
			s.BestAccMDL = math.Min(s.BestAccMDL, acc)
			hist[histBin(acc)] += a
			lt := ix.times[t.last[k]-1]
			oldest, newest = min(oldest, lt), max(newest, lt)
		}
	})
	if err != nil {
		return Stats{}, err
	}
	if s.SurveyedCells > 0 {
		s.MeanPasses = passes / s.SurveyedKm2
		s.MedianAccMDL = histQuantile(&hist, s.SurveyedKm2, 0.5)
		s.P90AccMDL = histQuantile(&hist, s.SurveyedKm2, 0.9)
		s.Oldest, s.Newest = time.Unix(0, oldest).UTC(), time.Unix(0, newest).UTC()
	} else {
		s.BestAccMDL = 0
	}
	s.AreaKm2 /= 1e6
	s.SurveyedKm2 /= 1e6
	return s, nil
}

func histQuantile(h *[histBins]float64, total, q float64) float64 {
	var c float64
	for b, w := range h {
		c += w
		if c >= q*total {
			return histValue(b)
		}
	}
	return histValue(histBins - 1)
}
