package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// HeaderKeyAirTemp is the ENVI header key under which simulated cubes carry
// the air (plume) temperature in kelvin, so that detection can form the
// thermal target without being told.
const HeaderKeyAirTemp = "atalaya air temperature k"

// Output names the files WriteScene writes.
type Output struct {
	Radiance string // ENVI header of the radiance cube
	Truth    string // ENVI header of the ppm·m truth cube
	Sources  string // JSON description of the scene and its sources
}

// Truth is the JSON ground truth of a simulated scene.
type Truth struct {
	Seed       uint64   `json:"seed"`
	Samples    int      `json:"samples"`
	Lines      int      `json:"lines"`
	GSDMeters  float64  `json:"gsd_m"`
	UTMZone    int      `json:"utm_zone"`
	North      bool     `json:"north"`
	Easting    float64  `json:"easting_m"`
	Northing   float64  `json:"northing_m"`
	Weather    Weather  `json:"weather"`
	Sources    []Source `json:"sources"`
	Gases      []string `json:"gases"`
	NESR       float64  `json:"nesr_w_m2_sr_um"`
	BadBands   []int    `json:"bad_bands"`
	ContrastK  float64  `json:"temperature_contrast_k"`
	RadianceTo string   `json:"radiance"`
	TruthTo    string   `json:"truth"`
}

// WriteScene renders the scene into dir as radiance.hdr/.img (float32 BIL,
// W/(m²·sr·µm)), truth.hdr/.img (ppm·m per gas) and truth.json. progress, if
// not nil, is called with the number of lines done after each block.
func WriteScene(dir string, sc *Scene, lib *spectra.Library, progress func(lines int)) (Output, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Output{}, err
	}
	out := Output{
		Radiance: filepath.Join(dir, "radiance.hdr"),
		Truth:    filepath.Join(dir, "truth.hdr"),
		Sources:  filepath.Join(dir, "truth.json"),
	}
	h := sc.Header()
	h.Keys = []string{HeaderKeyAirTemp}
	h.Fields = map[string]string{HeaderKeyAirTemp: strconv.FormatFloat(sc.Weather.AirTempK, 'g', -1, 64)}
	// The pass's time and wind, as a flight log would give them: detection
	// ignores them; fusion uses them to place plumes and weigh evidence.
	h.SetPassMeta(cube.PassMeta{
		Acquired: sc.LineTime(0), WindFromDeg: sc.Weather.WindFromDeg, WindSpeedMS: sc.Weather.WindSpeed,
		Stability: sc.Weather.Stability, AltitudeM: sc.Sensor.AltitudeMeters,
	})
	rw, err := cube.Create(out.Radiance, h)
	if err != nil {
		return out, err
	}
	tw, err := cube.Create(out.Truth, sc.TruthHeader())
	if err != nil {
		return out, err
	}
	err = sc.Render(lib, 32, func(r, t *cube.Cube) error {
		if err := rw.WriteLines(r); err != nil {
			return err
		}
		if err := tw.WriteLines(t); err != nil {
			return err
		}
		if progress != nil {
			progress(r.Rect.Dy())
		}
		return nil
	})
	if err != nil {
		rw.Close()
		tw.Close()
		return out, fmt.Errorf("simulate: %w", err)
	}
	if err := rw.Close(); err != nil {
		return out, err
	}
	if err := tw.Close(); err != nil {
		return out, err
	}
	truth := Truth{
		Seed: sc.Seed, Samples: sc.Samples, Lines: sc.Lines, GSDMeters: sc.GSD,
		UTMZone: sc.UTMZone, North: sc.North, Easting: sc.Easting, Northing: sc.Northing,
		Weather: sc.Weather, Sources: sc.Sources, Gases: sc.Gases(), NESR: sc.Sensor.NESR,
		BadBands: sc.Sensor.BadBands, ContrastK: sc.TempContrastK,
		RadianceTo: filepath.Base(out.Radiance), TruthTo: filepath.Base(out.Truth),
	}
	b, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return out, err
	}
	if err := os.WriteFile(out.Sources, append(b, '\n'), 0o644); err != nil {
		return out, err
	}
	return out, nil
}
