package mavlink

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/atalaya-project/atalaya/internal/mavlink/nodemavlink"
)

// Tests against the independent implementation, npm node-mavlink 2.3.0,
// run through internal/mavlink/nodemavlink. They fail, never skip, when it
// cannot run.

// compareFields checks every field of m against node-mavlink's values by
// XML name, exactly (floats as float32 bits).
func compareFields(t *testing.T, what string, m Message, node nodemavlink.Fields) {
	t.Helper()
	d, v, err := definitionOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(node) != len(d.Fields) {
		t.Errorf("%s: node-mavlink has %d fields, %s has %d", what, len(node), d.Name, len(d.Fields))
	}
	for i, f := range d.Fields {
		raw, ok := node[f.Name]
		if !ok {
			t.Errorf("%s: node-mavlink has no field %s", what, f.Name)
			continue
		}
		fv := v.Field(d.fields[i])
		var ok2 bool
		switch fv.Kind() {
		case reflect.Float32:
			var x float64
			ok2 = json.Unmarshal(raw, &x) == nil && math.Float32bits(float32(x)) == math.Float32bits(fv.Interface().(float32))
		case reflect.Float64:
			var x float64
			ok2 = json.Unmarshal(raw, &x) == nil && x == fv.Float()
		case reflect.Uint64:
			var s string
			ok2 = json.Unmarshal(raw, &s) == nil && s == strconv.FormatUint(fv.Uint(), 10)
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			var x int64
			ok2 = json.Unmarshal(raw, &x) == nil && x == fv.Int()
		default:
			var x uint64
			ok2 = json.Unmarshal(raw, &x) == nil && x == fv.Uint()
		}
		if !ok2 {
			t.Errorf("%s: %s.%s = %v, node-mavlink %s", what, d.Name, f.Name, fv.Interface(), raw)
		}
	}
}

// node-mavlink writes a tlog of v1, v2 and signed v2 frames; every record
// must be read back exactly.
func TestNodeMavlinkTlogReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.tlog")
	recs, err := nodemavlink.WriteTlog(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := SplitTlog(b)
	if err != nil {
		t.Fatalf("SplitTlog: %v (stats %+v)", err, st)
	}
	if len(got) != len(recs) || st.Skipped != 0 || st.Unknown != 0 || st.BadCRC != 0 {
		t.Fatalf("%d records (stats %+v), node-mavlink wrote %d", len(got), st, len(recs))
	}
	versions := map[int]int{}
	signed := 0
	for i, r := range recs {
		g := got[i]
		f := g.Frame
		what := r.Name + " #" + strconv.Itoa(i)
		if strconv.FormatUint(g.Usec, 10) != r.T || f.Version != r.Version || f.Seq != r.Seq || f.SysID != r.SysID ||
			f.CompID != r.CompID || f.MsgID != r.MsgID || (f.Signature != nil) != r.Signed || len(f.Payload) != r.PayloadLength {
			t.Errorf("%s: record %d µs v%d seq %d %d/%d id %d signed %v len %d; node-mavlink %+v", what, g.Usec,
				f.Version, f.Seq, f.SysID, f.CompID, f.MsgID, f.Signature != nil, len(f.Payload), r)
		}
		m, err := f.Message()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		compareFields(t, what, m, r.Fields)
		versions[f.Version]++
		if r.Signed {
			signed++
		}
	}
	if versions[1] == 0 || versions[2] == 0 || signed == 0 {
		t.Errorf("the log should hold v1, v2 and signed frames: %v, %d signed", versions, signed)
	}
}

// node-mavlink parses every message this package defines, as this
// package's Encoder writes it in MAVLink 1 and 2 (and a signed v2 frame).
func TestNodeMavlinkParsesEncoder(t *testing.T) {
	var buf bytes.Buffer
	var want []Message
	var versions []int
	for _, v := range []int{2, 1} {
		e := NewEncoder(&buf, 11, 22)
		e.Version, e.Seq = v, uint8(100*v)
		for _, m := range sampleMessages() {
			if err := e.Encode(m); err != nil {
				t.Fatal(err)
			}
			want = append(want, m)
			versions = append(versions, v)
		}
	}
	att := &Attitude{TimeBootMs: 9, Roll: 0.5}
	p, _ := Marshal(att)
	sig := []byte{7, 1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf}
	b, err := AppendFrame(buf.Bytes(), &Frame{Version: 2, IncompatFlags: IncompatSigned, Seq: 5, SysID: 11, CompID: 22, MsgID: IDAttitude, Payload: p, Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	want, versions = append(want, att), append(versions, 2)
	path := filepath.Join(t.TempDir(), "enc.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := nodemavlink.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Valid != len(want) || parsed.Invalid != 0 || parsed.Unknown != 0 || len(parsed.Packets) != len(want) {
		t.Fatalf("node-mavlink: %d valid, %d invalid, %d unknown, %d packets; wrote %d",
			parsed.Valid, parsed.Invalid, parsed.Unknown, len(parsed.Packets), len(want))
	}
	// Our own frames, to compare checksums.
	d := NewDecoder(bytes.NewReader(b))
	for i, pk := range parsed.Packets {
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		magic := map[int]int{1: STXv1, 2: STXv2}[versions[i]]
		what := pk.Name + " v" + strconv.Itoa(versions[i])
		if pk.STX != magic || pk.MsgID != want[i].MsgID() || pk.SysID != 11 || pk.CompID != 22 ||
			pk.Seq != f.Seq || pk.CRC != f.Checksum || pk.PayloadLength != len(f.Payload) || pk.Signed != (f.Signature != nil) {
			t.Errorf("%s: node-mavlink header %+v, frame %+v", what, pk, f)
		}
		w := want[i]
		if versions[i] == 1 { // extensions are not sent in v1: zero
			def, _ := Lookup(w.MsgID())
			p, _ := Marshal(w)
			w, _ = New(w.MsgID())
			_ = Unmarshal(p[:def.BaseLen], w)
		}
		compareFields(t, what, w, pk.Fields)
	}
}

func surveyMission() []MissionItem {
	const lat, lon = 40.4168, -3.7038 // degrees
	e7 := func(deg float64) int32 { return int32(math.Round(deg * 1e7)) }
	items := []MissionItem{
		{Frame: FrameGlobal, Command: CmdNavWaypoint, Autocontinue: 1, X: e7(lat), Y: e7(lon), Z: 650}, // home (ArduPilot)
		{Frame: FrameGlobalRelativeAltInt, Command: CmdNavTakeoff, Current: 1, Autocontinue: 1, Param4: float32(math.NaN()), Z: 120},
		{Frame: FrameMission, Command: CmdDoSetCamTriggDist, Autocontinue: 1, Param1: 25, Param3: 1},
	}
	for k := range 6 {
		for _, end := range []float64{0, 1} {
			side := end
			if k%2 == 1 {
				side = 1 - end
			}
			items = append(items, MissionItem{Frame: FrameGlobalRelativeAltInt, Command: CmdNavWaypoint, Autocontinue: 1,
				Param2: 5, X: e7(lat + 0.0005*float64(k)), Y: e7(lon + 0.01*side), Z: 120})
		}
	}
	items = append(items,
		MissionItem{Frame: FrameMission, Command: CmdDoSetCamTriggDist, Autocontinue: 1},
		MissionItem{Frame: FrameMission, Command: CmdNavReturnToLaunch, Autocontinue: 1})
	for i := range items {
		items[i].Seq = uint16(i)
	}
	return items
}

// The mission WriteMission writes, parsed by node-mavlink, field by field.
func TestNodeMavlinkParsesMission(t *testing.T) {
	items := surveyMission()
	var buf bytes.Buffer
	if err := WriteMission(&buf, items, 1, 1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mission.bin")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := nodemavlink.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Valid != len(items)+1 || parsed.Invalid != 0 || parsed.Unknown != 0 {
		t.Fatalf("node-mavlink: %d valid, %d invalid, %d unknown; wrote %d frames", parsed.Valid, parsed.Invalid, parsed.Unknown, len(items)+1)
	}
	for i, pk := range parsed.Packets {
		if pk.STX != STXv2 || pk.Seq != uint8(i) || pk.SysID != GCSSystemID || pk.CompID != CompIDMissionPlanner {
			t.Errorf("packet %d: header %+v", i, pk)
		}
		var want Message = &MissionCount{TargetSystem: 1, TargetComponent: 1, Count: uint16(len(items))}
		if i > 0 {
			want = items[i-1].Int(1, 1)
		}
		if pk.MsgID != want.MsgID() {
			t.Errorf("packet %d: id %d, want %d", i, pk.MsgID, want.MsgID())
			continue
		}
		if i == 2 { // NaN param4 (keep yaw): JSON has no NaN; checked by hand
			if string(pk.Fields["param4"]) != "null" {
				t.Errorf("takeoff param4 = %s, want NaN (null in JSON)", pk.Fields["param4"])
			}
			pk.Fields["param4"] = json.RawMessage("0")
			w := *want.(*MissionItemInt)
			w.Param4 = 0
			want = &w
		}
		compareFields(t, "mission packet "+strconv.Itoa(i), want, pk.Fields)
	}
}
