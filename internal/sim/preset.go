package sim

// DemoScene is the scene `atalaya demo` flies: 400 × 300 pixels of mixed
// farmland, bush and a small town at 1 m, in the Colombian lowlands, with a
// methamphetamine-scale source (tens of kg/h of solvent and ammonia) and a
// fentanyl-scale source (a small fraction of that) upwind of it.
func DemoScene(seed uint64) *Scene {
	return &Scene{
		Samples: 400, Lines: 300, GSD: 1,
		UTMZone: 18, North: true, Easting: 512000, Northing: 250000,
		Sensor: Sensor{
			Bands: 128, MinUM: 7.6, MaxUM: 13.4, FWHMFactor: 1.2,
			// 1 µW/(cm²·sr·cm⁻¹) at 10 µm is about 0.01 W/(m²·sr·µm), typical of
			// airborne LWIR imaging spectrometers (e.g. Hall et al. 2011, Mako).
			NESR:     0.01,
			BadBands: []int{97},
			// 300 m above ground.
			AltitudeMeters: 300,
		},
		Weather: Weather{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300, PressurePa: 101325},
		Sources: []Source{
			{Name: "meth-lab", East: 90, North: -110, Rates: map[string]float64{"acetone": 20, "ammonia": 8}},
			{Name: "fentanyl-lab", East: 110, North: -230, Rates: map[string]float64{"acetone": 0.3}},
		},
		Seed:          seed,
		TempContrastK: 8,
		TextureK:      1.5,
	}
}
