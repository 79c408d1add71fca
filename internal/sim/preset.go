package sim

// DemoScene is the scene `atalaya demo` flies: the "demo" preset's pass
// (farmland, bush and a small town at 1 m in the Colombian lowlands, with a
// methamphetamine-scale and a fentanyl-scale source), with its own seed.
func DemoScene(seed uint64) *Scene {
	s, err := Preset("demo")
	if err != nil {
		panic(err) // the embedded presets are checked by the tests
	}
	s.Seed = seed
	return s.Scene(0)
}
