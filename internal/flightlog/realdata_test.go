package flightlog

import (
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
