package flightlog

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// realLogDir holds real PX4 logs from PX4/pyulog's test/ folder (see
// shared/data/SOURCES.md, "flightlogs/"). Tests that use them fail, never
// skip, when the folder is missing.
const realLogDir = "../../../shared/data/flightlogs"

func realLogs(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(realLogDir, "*.ulg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no real ULog files in %s (shared/data/flightlogs, see SOURCES.md): %v", realLogDir, err)
	}
	return files
}

func TestRealLogsParse(t *testing.T) {
	for _, path := range realLogs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			l, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile: %v (%d problems: %v)", err, l.ProblemCount, l.Problems)
			}
			n := 0
			for _, tp := range l.Topics {
				n += tp.Len()
			}
			t.Logf("version %d start %d topics %d data messages %d logging %d dropouts %d sync %d params %d changes %d defaults %d appended %v",
				l.Version, l.StartTime, len(l.Topics), n, len(l.Messages), len(l.Dropouts), l.SyncCount, len(l.Params), len(l.ParamSteps), len(l.Defaults), l.AppendedOffsets)
			for _, tp := range l.Topics {
				switch tp.Name {
				case "vehicle_global_position", "vehicle_gps_position", "sensor_gps", "vehicle_attitude", "wind", "wind_estimate":
					t.Logf("  %s/%d: %d", tp.Name, tp.MultiID, tp.Len())
				}
			}
		})
	}
}

// TestRealLogTracks extracts the track of every real log; the values come
// from topics that TestRealLogsAgainstFoxglove checks field by field.
func TestRealLogTracks(t *testing.T) {
	want := map[string]string{
		"sample_appended_multiple.ulg":                 "", // no position topic with data
		"sample_log_small.ulg":                         "vehicle_gps_position",
		"sample_logging_tagged_and_default_params.ulg": "vehicle_gps_position",
		"sample_px4_events.ulg":                        "vehicle_global_position",
	}
	for _, path := range realLogs(t) {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			l, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := l.Track()
			src, ok := want[base]
			if !ok {
				t.Fatalf("no expectation for %s", base)
			}
			if src == "" {
				if !errors.Is(err, ErrNoPosition) {
					t.Fatalf("Track: %v, want ErrNoPosition", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.Source != src {
				t.Errorf("source %s, want %s", tr.Source, src)
			}
			att, wind := 0, 0
			for i, s := range tr.Samples {
				if math.Abs(s.Lat) > 90 || math.Abs(s.Lon) > 180 || s.Alt < -500 || s.Alt > 10000 {
					t.Fatalf("sample %d: %+v", i, s)
				}
				if s.HasAttitude {
					att++
				}
				if s.HasWind {
					wind++
				}
			}
			first, last := tr.Samples[0], tr.Samples[len(tr.Samples)-1]
			t.Logf("%s: %d samples, UTC %v (%v … %v), attitude on %d, wind on %d; first %.7f %.7f %.2f m",
				tr.Source, len(tr.Samples), tr.HasUTC, first.Time, last.Time, att, wind, first.Lat, first.Lon, first.Alt)
			if att == 0 {
				t.Error("no attitude attached")
			}
		})
	}
}
