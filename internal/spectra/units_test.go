package spectra

import (
	"math"
	"testing"
)

func TestWavelengthWavenumber(t *testing.T) {
	for um, cm := range map[float64]float64{10: 1000, 8: 1250, 12.5: 800, 2.5: 4000} {
		if got := MicrometresToWavenumber(um); math.Abs(got-cm) > 1e-12 {
			t.Errorf("%g µm = %g cm-1, want %g", um, got, cm)
		}
		if got := WavenumberToMicrometres(cm); math.Abs(got-um) > 1e-12 {
			t.Errorf("%g cm-1 = %g µm, want %g", cm, got, um)
		}
	}
	if NanometresToMicrometres(10500) != 10.5 || MicrometresToNanometres(0.55) != 550 {
		t.Error("nm ↔ µm")
	}
}

// 1000 ppm·m of methane (16.043 g/mol) at 101325 Pa and 288.15 K, by hand:
// P/(RT) = 101325/(8.314462618 × 288.15) = 42.29254 mol/m³; × 10⁻³ m =
// 0.04229254 mol/m²; × 0.016043 kg/mol = 6.784993e-4 kg/m².
func TestColumnMass(t *testing.T) {
	if math.Abs(MolarGasConstant-8.314462618) > 1e-9 {
		t.Errorf("R = %.10g", MolarGasConstant)
	}
	got := PPMmToKgPerM2(1000, 16.043, StandardConditions)
	if math.Abs(got-6.784993e-4) > 1e-9 {
		t.Errorf("1000 ppm·m CH4 = %.7g kg/m², want 6.784993e-4", got)
	}
	// Ammonia at 0 °C and 1 atm: 1 ppm·m = 1e-6 m × 101325/(R·273.15)
	// = 4.461498e-5 mol/m² × 17.031 g/mol = 7.598377e-7 kg/m².
	c := Conditions{PressurePa: 101325, TemperatureK: 273.15}
	if got := PPMmToKgPerM2(1, 17.031, c); math.Abs(got-7.598377e-7) > 1e-12 {
		t.Errorf("1 ppm·m NH3 at STP = %.7g, want 7.598377e-7", got)
	}
	for _, v := range []float64{0, 1, 250, 1e5} {
		if back := KgPerM2ToPPMm(PPMmToKgPerM2(v, 58.08, c), 58.08, c); math.Abs(back-v) > 1e-12*math.Max(v, 1) {
			t.Errorf("round trip %g → %g", v, back)
		}
	}
}
