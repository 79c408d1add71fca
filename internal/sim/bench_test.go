package sim

import (
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// BenchmarkRender renders a 1000 × 1000-pixel, 128-band scene with a source,
// and reports the real-time factor: the time a drone at 10 m/s takes to fly
// its 1000 lines of 1 m over the time the simulation takes.
func BenchmarkRender(b *testing.B) {
	lib := defaultLibrary(b)
	sc := DemoScene(1)
	sc.Samples, sc.Lines = 1000, 1000
	sc.Sources[0].East, sc.Sources[0].North = 300, -500
	b.ReportAllocs()
	for b.Loop() {
		if err := sc.Render(lib, 64, func(r, t *cube.Cube) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	perScene := b.Elapsed().Seconds() / float64(b.N)
	flight := float64(sc.Lines) * sc.GSD / 10
	b.ReportMetric(flight/perScene, "realtime-x")
	b.ReportMetric(float64(sc.Samples*sc.Lines)/perScene/1e6, "Mpix/s")
}
