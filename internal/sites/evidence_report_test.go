package sites

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEvidenceReport turns docs/evidence/evidence.json (written by
// TestEvaluateEvidence) into the tables and plots of docs/evidence.md:
//
//	ATALAYA_EVIDENCE_REPORT=docs/evidence go test -run TestEvidenceReport -v ./internal/sites/
func TestEvidenceReport(t *testing.T) {
	dir := os.Getenv("ATALAYA_EVIDENCE_REPORT")
	if dir == "" {
		t.Skip("set ATALAYA_EVIDENCE_REPORT to the folder of evidence.json")
	}
	// ATALAYA_EVIDENCE_MERGE lists evaluation files (comma-separated) whose
	// surveys are concatenated into dir/evidence.json first: runs made in
	// parts (more repetitions, more gas-free ground) reported as one.
	if m := os.Getenv("ATALAYA_EVIDENCE_MERGE"); m != "" {
		var all evidenceEval
		for i, f := range strings.Split(m, ",") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev evidenceEval
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if i == 0 {
				all = ev
				continue
			}
			if !slices.Equal(ev.FARs, all.FARs) || !slices.Equal(ev.Gases, all.Gases) {
				t.Fatalf("%s: rates %v and gases %v, the first file's %v and %v", f, ev.FARs, ev.Gases, all.FARs, all.Gases)
			}
			all.Fentanyl = append(all.Fentanyl, ev.Fentanyl...)
			all.Null = append(all.Null, ev.Null...)
		}
		all.NullTotal = nullTotals(all.Null, all.FARs)
		b, err := json.MarshalIndent(all, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "evidence.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "evidence.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev evidenceEval
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	// Several runs' files may have been merged (their Fentanyl and Null
	// lists concatenated): the totals are recomputed from the surveys.
	ev.NullTotal = nullTotals(ev.Null, ev.FARs)
	const lab = "fentanyl-lab"
	var md strings.Builder
	var scales []float64
	for _, r := range ev.Fentanyl {
		if !slices.Contains(scales, r.Scale) {
			scales = append(scales, r.Scale)
		}
	}
	slices.Sort(scales)
	mdlSeries := map[string][]float64{}
	var mdlX []float64
	zbar := map[float64][]float64{}
	var faintThr []float64
	for _, sc := range scales {
		var runs []surveyEval
		for _, r := range ev.Fentanyl {
			if r.Scale == sc {
				runs = append(runs, r)
			}
		}
		q := 0.3 * sc
		N := 0
		for _, r := range runs {
			N = max(N, len(r.Passes))
		}
		cols := reportColumns(N)
		fmt.Fprintf(&md, "\n#### ×%g: %.2g kg/h dichloromethane (+ %.2g toluene), %d repetitions of %d passes\n\n", sc, q, 0.2*sc, len(runs), N)
		md.WriteString("| n |")
		for _, n := range cols {
			fmt.Fprintf(&md, " %d |", n)
		}
		md.WriteString("\n| --- |" + strings.Repeat(" --- |", len(cols)) + "\n")
		rows := []string{"mean combined z at the lab's cell", "mean z of pass n alone", "median σ of the combined rate (kg/h)",
			"mean combined rate (kg/h)", "median DCM threshold at 0.1/km²", "found after n, 0.1/km²", "found after n, 1/km²",
			"pass n alone finds it (grid, 0.1/km²)", "pass n alone finds it (granule, 0.1/km²)",
			"**found after n, and no pass ≤ n alone did (grid or granule)**",
			"detections of the lab's gas away from it (not near a known plume), 0.1/km²"}
		cells := make([][]string, len(rows))
		var thr []float64
		var eff []float64
		for _, n := range cols {
			var z, z1, sg, rt, th []float64
			f0, f1, s1, g1, ms := 0, 0, 0, 0, 0
			mis, misNew, misRuns := 0, 0, 0
			for _, r := range runs {
				if len(r.Passes) < n {
					continue
				}
				p := r.Passes[n-1]
				single := false
				for _, q := range r.Passes[:n] {
					single = single || q.FoundSingle[0][lab] || q.GranuleFound[lab]
				}
				if p.Found[0][lab] && !single {
					ms++
				}
				z = append(z, p.LabZ[lab])
				z1 = append(z1, p.LabZSingle[lab])
				sg = append(sg, p.LabSigma[lab])
				rt = append(rt, p.LabRate[lab])
				th = append(th, p.Thresholds[0]["dichloromethane"])
				if p.Found[0][lab] {
					f0++
				}
				if p.Found[1][lab] {
					f1++
				}
				if p.FoundSingle[0][lab] {
					s1++
				}
				if p.GranuleFound[lab] {
					g1++
				}
				if len(p.Mislocated) > 0 {
					misRuns++
					mis += p.Mislocated[0]
					misNew += p.MislocatedNew[0]
				}
			}
			k := len(z)
			cells[0] = append(cells[0], fmt.Sprintf("%.2f", mean(z)))
			cells[1] = append(cells[1], fmt.Sprintf("%.2f", mean(z1)))
			cells[2] = append(cells[2], fmt.Sprintf("%.3f", median(sg)))
			cells[3] = append(cells[3], fmt.Sprintf("%.3f", mean(rt)))
			cells[4] = append(cells[4], fmt.Sprintf("%.2f", median(th)))
			cells[5] = append(cells[5], fmt.Sprintf("%d/%d", f0, k))
			cells[6] = append(cells[6], fmt.Sprintf("%d/%d", f1, k))
			cells[7] = append(cells[7], fmt.Sprintf("%d/%d", s1, k))
			cells[8] = append(cells[8], fmt.Sprintf("%d/%d", g1, k))
			cells[9] = append(cells[9], fmt.Sprintf("%d/%d", ms, k))
			if misRuns > 0 {
				cells[10] = append(cells[10], fmt.Sprintf("%d (%d)", mis, misNew))
			} else {
				cells[10] = append(cells[10], "—")
			}
			if n <= 9 {
				thr = append(thr, median(th))
			}
			if n == N {
				eff = append(eff, mean(rt)/q)
			}
		}
		for i, r := range rows {
			fmt.Fprintf(&md, "| %s | %s |\n", r, strings.Join(cells[i], " | "))
		}
		e := eff[0]
		fmt.Fprintf(&md, "\nEfficiency (mean combined rate after %d passes / true rate): %.2f.\n", N, e)
		md.WriteString(runTable(runs))
		zmean := make([]float64, 9)
		for n := range 9 {
			var z []float64
			for _, r := range runs {
				z = append(z, r.Passes[n].LabZ[lab])
			}
			// The median: MDL50 is the rate half the surveys detect, and
			// the surveys' sensitivity at the laboratory differs by up to
			// eightfold with the ground's thermal contrast there, so the
			// mean is the few high-contrast surveys'.
			zmean[n] = median(z)
		}
		zbar[sc] = zmean
		if sc == scales[0] {
			faintThr = thr
		}
	}
	md.WriteString(podTable(ev.Fentanyl, scales))
	// MDL50(n): the rate whose expected combined z at the source's cell is
	// a faint source's threshold (the unscaled preset's, which its own
	// lobes do not raise): Q·T(n)/z̃_Q(n), z proportional to Q.
	md.WriteString("\nMDL50(n) = Q·T(n)/z̃(n), T the 0.3 kg/h runs' median threshold at 0.1/km², z̃ the median combined z at the laboratory's cell at rate Q:\n\n| from | n = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |\n| --- |" + strings.Repeat(" --- |", 9) + "\n")
	for _, sc := range scales[1:] {
		name := fmt.Sprintf("grid, from %.2g kg/h", 0.3*sc)
		row := []string{}
		for n := range 9 {
			v := 0.3 * sc * faintThr[n] / zbar[sc][n]
			mdlSeries[name] = append(mdlSeries[name], v)
			row = append(row, fmt.Sprintf("%.1f", v))
		}
		fmt.Fprintf(&md, "| %.2g kg/h | %s kg/h |\n", 0.3*sc, strings.Join(row, " | "))
		if sc == scales[len(scales)-1] {
			for n := range 9 {
				mdlSeries["MDL50(1)/√n"] = append(mdlSeries["MDL50(1)/√n"], mdlSeries[name][0]/math.Sqrt(float64(n+1)))
			}
		}
	}
	for n := range 9 {
		mdlX = append(mdlX, float64(n+1))
	}
	// docs/evaluation.md's pixel-averaged n-pass MDL50 (granule, one gas,
	// fixed wind 3 m/s from the west, 200 × 120 m): 1.67, 1.10, 0.84 kg/h
	// at n = 1, 3, 9; drawn as a line through them.
	for n := 1; n <= 9; n++ {
		x := math.Log(float64(n)) / math.Log(9)
		mdlSeries["granule pixels (eval)"] = append(mdlSeries["granule pixels (eval)"], math.Exp((1-x)*math.Log(1.67)+x*math.Log(0.84)))
	}
	md.WriteString("\n#### False alarms on gas-free ground (clean and confusers presets, every repetition)\n\n")
	md.WriteString("| set (per km², 6 gases) | after all passes | gas-free km² | rate per km² | 95% interval (Garwood) | P(≥ observed \\| set rate) | each pass alone |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, nt := range ev.NullTotal {
		lo, hi := poissonCI(nt.SingleFalseAlarms, 0.05)
		fmt.Fprintf(&md, "| %g | %d | %.2f | %.3f | %.3f–%.3f | %.2f | %d on %.2f km² (%.2f/km², 95%% %.2f–%.2f) |\n", nt.FARPerKm2, nt.FalseAlarms, nt.AreaKm2, nt.RatePerKm2, nt.CI95[0], nt.CI95[1], nt.PAtSetting,
			nt.SingleFalseAlarms, nt.SingleAreaKm2, float64(nt.SingleFalseAlarms)/nt.SingleAreaKm2, lo/nt.SingleAreaKm2, hi/nt.SingleAreaKm2)
	}
	for _, preset := range []string{"clean", "confusers"} {
		fa := make([]int, len(ev.FARs))
		area := 0.0
		n := 0
		for _, s := range ev.Null {
			if s.Preset != preset {
				continue
			}
			n++
			last := s.Passes[len(s.Passes)-1]
			area += last.AreaKm2
			for i := range ev.FARs {
				fa[i] += last.FalseAlarms[i]
			}
		}
		fmt.Fprintf(&md, "\n%s: %d repetitions, %.2f gas-free km²; false alarms %v at %v per km².\n", preset, n, area, fa, ev.FARs)
	}
	if err := os.WriteFile(filepath.Join(dir, "tables.md"), []byte(md.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(mdlX) == 9 {
		var order []string
		for k := range mdlSeries {
			order = append(order, k)
		}
		slices.Sort(order)
		svg := svgLines("dichloromethane MDL50 against passes (source grid, 0.1/km²)", "kg/h", mdlX, mdlSeries, order)
		if err := os.WriteFile(filepath.Join(dir, "mdl.svg"), []byte(svg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "far.svg"), []byte(farSVG(ev.NullTotal)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scales {
		if err := writeZPlot(filepath.Join(dir, fmt.Sprintf("fentanyl-x%g-z.svg", sc)), ev.Fentanyl, sc); err != nil {
			t.Fatal(err)
		}
	}
	t.Log(md.String())
}

// reportColumns are the pass counts a table shows: every one up to nine,
// then 12, 16, 20, 25, … and the last.
func reportColumns(n int) []int {
	var out []int
	for k := 1; k <= min(n, 9); k++ {
		out = append(out, k)
	}
	for _, k := range []int{12, 16, 20, 25, 36, 49} {
		if k < n {
			out = append(out, k)
		}
	}
	if n > 9 {
		out = append(out, n)
	}
	return out
}

// runTable says, for each repetition, after how many passes the grid
// first finds the laboratory at 0.1/km², which pass alone first finds it
// (the grid's test of that pass alone, or the granule), and whether the
// accumulation found it before any single pass did — the must-show.
func runTable(runs []surveyEval) string {
	const lab = "fentanyl-lab"
	var b strings.Builder
	b.WriteString("\n| repetition | first found after n (0.1/km²) | first pass alone finding it: grid | granule | found before any single pass |\n| --- | --- | --- | --- | --- |\n")
	held := 0
	for _, r := range runs {
		first, grid1, gran1 := 0, 0, 0
		for _, p := range r.Passes {
			if first == 0 && p.Found[0][lab] {
				first = p.N
			}
			if grid1 == 0 && p.FoundSingle[0][lab] {
				grid1 = p.N
			}
			if gran1 == 0 && p.GranuleFound[lab] {
				gran1 = p.N
			}
		}
		ok := first > 0 && (grid1 == 0 || grid1 > first) && (gran1 == 0 || gran1 > first)
		if ok {
			held++
		}
		name := func(n int) string {
			if n == 0 {
				return "none"
			}
			return fmt.Sprint(n)
		}
		yes := "no"
		if ok {
			yes = "**yes**"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", r.Seed, name(first), name(grid1), name(gran1), yes)
	}
	fmt.Fprintf(&b, "\nFound by accumulating passes before any single pass found it: %d of %d repetitions.\n", held, len(runs))
	return b.String()
}

// farSVG plots the measured false-alarm rate (with its 95% interval)
// against the set rate, both on log axes, with the line measured = set.
func farSVG(nts []nullTotal) string {
	const W, H, L, B, T, R = 420.0, 320.0, 60.0, 45.0, 30.0, 20.0
	lo, hi := -3.0, 1.0 // log10 per km²
	px := func(v float64) float64 { return L + (math.Log10(v)-lo)/(hi-lo)*(W-L-R) }
	py := func(v float64) float64 {
		v = math.Max(v, math.Pow(10, lo))
		return H - B - (math.Log10(v)-lo)/(hi-lo)*(H-B-T)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%g" y="18" font-size="13">false alarms per km², gas-free ground</text>`+"\n", L)
	for e := lo; e <= hi; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/><text x="%g" y="%g" text-anchor="end">%g</text>`+"\n", L, py(v), W-R, py(v), L-4, py(v)+4, v)
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/><text x="%g" y="%g" text-anchor="middle">%g</text>`+"\n", px(v), T, px(v), H-B, px(v), H-B+15, v)
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#7f7f7f" stroke-dasharray="4 3"/>`+"\n", px(math.Pow(10, lo)), py(math.Pow(10, lo)), px(math.Pow(10, hi)), py(math.Pow(10, hi)))
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">set rate per km²</text><text x="14" y="%g" transform="rotate(-90 14 %g)" text-anchor="middle">measured per km² (95%% interval)</text>`+"\n", (L+W-R)/2, H-8, (T+H-B)/2, (T+H-B)/2)
	for _, nt := range nts {
		x := px(nt.FARPerKm2)
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#d62728" stroke-width="2"/>`+"\n", x, py(nt.CI95[0]), x, py(nt.CI95[1]))
		fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="4" fill="#d62728"/><text x="%g" y="%g">%d on %.1f km²</text>`+"\n", x, py(math.Max(nt.RatePerKm2, math.Pow(10, lo))), x+6, py(math.Max(nt.RatePerKm2, math.Pow(10, lo)))-6, nt.FalseAlarms, nt.AreaKm2)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// podTable is the must-show as detection probabilities, per rate: how
// often one pass alone finds the laboratory (the granule's test, the
// grid's test of the pass alone, either), against how often the passes
// together have found it after n, at 0.1 false alarms per km².
func podTable(runs []surveyEval, scales []float64) string {
	const lab = "fentanyl-lab"
	var b strings.Builder
	b.WriteString("\n#### Detection probability: one pass against n passes (0.1/km²)\n\n")
	b.WriteString("| rate | one pass: granule | grid of the pass | either | n passes together: 3 | 5 | 9 | all |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, sc := range scales {
		var gr, gd, ei, np int
		after := map[int]int{}
		reps, N := 0, 0
		for _, r := range runs {
			if r.Scale != sc {
				continue
			}
			reps++
			N = max(N, len(r.Passes))
			for _, p := range r.Passes {
				np++
				g1, s1 := p.GranuleFound[lab], p.FoundSingle[0][lab]
				if g1 {
					gr++
				}
				if s1 {
					gd++
				}
				if g1 || s1 {
					ei++
				}
			}
			for _, n := range slices.Compact([]int{3, 5, 9, len(r.Passes)}) {
				if n <= len(r.Passes) && r.Passes[n-1].Found[0][lab] {
					after[n]++
				}
			}
		}
		pc := func(k, n int) string {
			if n == 0 {
				return "—"
			}
			return fmt.Sprintf("%d/%d (%.0f%%)", k, n, 100*float64(k)/float64(n))
		}
		cell := func(n int) string {
			if n > N {
				return "—"
			}
			return pc(after[n], reps)
		}
		fmt.Fprintf(&b, "| %.2g kg/h | %s | %s | %s | %s | %s | %s | %s (n = %d) |\n", 0.3*sc, pc(gr, np), pc(gd, np), pc(ei, np), cell(3), cell(5), cell(9), pc(after[N], reps), N)
	}
	return b.String()
}
