package spectra

// Physical constants, CODATA 2018 (E. Tiesinga et al., Rev. Mod. Phys. 93,
// 025010 (2021)); since the 2019 SI redefinition h, c, k and N_A are exact.
const (
	// PlanckConstant h in J·s (exact).
	PlanckConstant = 6.62607015e-34
	// SpeedOfLight c in m/s (exact).
	SpeedOfLight = 299792458.0
	// BoltzmannConstant k in J/K (exact).
	BoltzmannConstant = 1.380649e-23
	// AvogadroConstant N_A in 1/mol (exact).
	AvogadroConstant = 6.02214076e23
	// MolarGasConstant R = N_A·k in J/(mol·K) (exact; 8.314462618...).
	MolarGasConstant = AvogadroConstant * BoltzmannConstant
	// StefanBoltzmannConstant σ in W/(m²·K⁴), CODATA 2018 value
	// 5.670374419e-8 (exact to the digits given).
	StefanBoltzmannConstant = 5.670374419e-8
)

// Conditions are the pressure and temperature of the air a plume is mixed
// into, for converting concentration-pathlength to column mass.
type Conditions struct {
	PressurePa   float64
	TemperatureK float64
}

// StandardConditions are 101325 Pa and 288.15 K (15 °C), the ISO 13443
// standard reference conditions for natural gas and the ICAO standard
// atmosphere at sea level. A survey at altitude or in the heat should pass
// its own Conditions.
var StandardConditions = Conditions{PressurePa: 101325, TemperatureK: 288.15}

// MicrometresToWavenumber converts a wavelength in µm to a wavenumber in
// cm⁻¹: ν = 10⁴/λ.
func MicrometresToWavenumber(um float64) float64 { return 1e4 / um }

// WavenumberToMicrometres converts a wavenumber in cm⁻¹ to a wavelength in
// µm: λ = 10⁴/ν.
func WavenumberToMicrometres(cm float64) float64 { return 1e4 / cm }

// NanometresToMicrometres converts nm to µm.
func NanometresToMicrometres(nm float64) float64 { return nm * 1e-3 }

// MicrometresToNanometres converts µm to nm.
func MicrometresToNanometres(um float64) float64 { return um * 1e3 }

// PPMmToKgPerM2 converts a concentration-pathlength in ppm·m of a gas of
// molar mass molarMass (g/mol), mixed into ideal-gas air at conditions c,
// to a column mass in kg/m²:
//
//	column = c·10⁻⁶ [m] · P/(R·T) [mol/m³] · M·10⁻³ [kg/mol]
//
// (1 ppm·m is a layer of the pure gas 1 µm thick at the air's P and T.)
func PPMmToKgPerM2(ppmm, molarMass float64, c Conditions) float64 {
	return ppmm * 1e-6 * c.PressurePa / (MolarGasConstant * c.TemperatureK) * molarMass * 1e-3
}

// KgPerM2ToPPMm is the inverse of PPMmToKgPerM2.
func KgPerM2ToPPMm(kgPerM2, molarMass float64, c Conditions) float64 {
	return kgPerM2 / (1e-6 * c.PressurePa / (MolarGasConstant * c.TemperatureK) * molarMass * 1e-3)
}
