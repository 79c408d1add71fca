package mavlink

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestWriteWPL(t *testing.T) {
	items := []MissionItem{
		{Seq: 0, Frame: FrameGlobal, Command: CmdNavWaypoint, Autocontinue: 1, X: 404168000, Y: -37038000, Z: 650},
		{Seq: 1, Frame: FrameGlobalRelativeAltInt, Command: CmdNavTakeoff, Current: 1, Autocontinue: 1, Z: 120},
		{Seq: 2, Frame: FrameMission, Command: CmdDoSetCamTriggDist, Autocontinue: 1, Param1: 25.5, Param3: 1},
		{Seq: 3, Frame: FrameGlobalRelativeAltInt, Command: CmdNavWaypoint, Autocontinue: 1, Param2: 0.1, X: -1, Y: -1800000000, Z: 120.25},
		{Seq: 4, Frame: FrameMission, Command: CmdNavReturnToLaunch, Autocontinue: 1},
	}
	var buf bytes.Buffer
	if err := WriteWPL(&buf, items); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"QGC WPL 110",
		"0\t0\t0\t16\t0\t0\t0\t0\t40.4168000\t-3.7038000\t650\t1",
		"1\t1\t3\t22\t0\t0\t0\t0\t0.0000000\t0.0000000\t120\t1",
		"2\t0\t2\t206\t25.5\t0\t1\t0\t0.0000000\t0.0000000\t0\t1",
		"3\t0\t3\t16\t0\t0.1\t0\t0\t-0.0000001\t-180.0000000\t120.25\t1",
		"4\t0\t2\t20\t0\t0\t0\t0\t0.0000000\t0.0000000\t0\t1",
		"",
	}, "\n")
	if buf.String() != want {
		t.Errorf("WPL:\n%s\nwant:\n%s", buf.String(), want)
	}
	if e7(math.MinInt32) != "-214.7483648" {
		t.Errorf("e7(MinInt32) = %s", e7(math.MinInt32))
	}
}

func TestMissionSeqChecked(t *testing.T) {
	items := []MissionItem{{Seq: 0}, {Seq: 2}}
	if err := WriteMission(&bytes.Buffer{}, items, 1, 1); err == nil || !strings.Contains(err.Error(), "seq 2") {
		t.Errorf("WriteMission with a gap: %v", err)
	}
	if err := WriteWPL(&bytes.Buffer{}, items); err == nil {
		t.Error("WriteWPL with a gap: no error")
	}
}

func TestWriteMissionFrames(t *testing.T) {
	items := surveyMission()
	var buf bytes.Buffer
	if err := WriteMission(&buf, items, 3, 4); err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(&buf)
	for i := -1; i < len(items); i++ {
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		m, _ := f.Message()
		switch m := m.(type) {
		case *MissionCount:
			if i != -1 || m.Count != uint16(len(items)) || m.TargetSystem != 3 || m.TargetComponent != 4 {
				t.Errorf("frame %d: %+v", i+1, m)
			}
		case *MissionItemInt:
			w := items[i].Int(3, 4)
			if i < 0 || m.Seq != w.Seq || m.X != w.X || m.Y != w.Y || m.Z != w.Z || m.Command != w.Command ||
				math.Float32bits(m.Param4) != math.Float32bits(w.Param4) {
				t.Errorf("frame %d: %+v, want %+v", i+1, m, w)
			}
		default:
			t.Errorf("frame %d: %T", i+1, m)
		}
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the mission: %v", err)
	}
}
