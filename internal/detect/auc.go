package detect

import (
	"math"
	"slices"
)

// AUC returns the area under the ROC curve of scores against truth (true =
// target), as the Mann–Whitney U statistic divided by n₁·n₀, with tied scores
// given their average rank (Hanley & McNeil, Radiology 143, 1982). NaN scores
// are left out; it returns NaN if either class is empty.
func AUC(scores []float32, truth []bool) float64 {
	if len(truth) < len(scores) {
		panic("detect: AUC: truth shorter than scores")
	}
	type st struct {
		s float32
		t bool
	}
	v := make([]st, 0, len(scores))
	for i, s := range scores {
		if s == s {
			v = append(v, st{s, truth[i]})
		}
	}
	slices.SortFunc(v, func(a, b st) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	var n1, n0 int
	var rankSum float64 // Σ ranks of positives, ranks 1-based, ties averaged
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j].s == v[i].s {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			if v[k].t {
				n1++
				rankSum += avg
			} else {
				n0++
			}
		}
		i = j
	}
	if n1 == 0 || n0 == 0 {
		return math.NaN()
	}
	u := rankSum - float64(n1)*float64(n1+1)/2
	return u / (float64(n1) * float64(n0))
}
