package mavlink

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestCRC16CheckValue(t *testing.T) {
	// CRC-16/MCRF4XX check value (reveng catalogue: check=0x6f91).
	if got := CRC16(crcInit, []byte("123456789")); got != 0x6F91 {
		t.Fatalf("CRC16(123456789) = %#04x, want 0x6f91", got)
	}
}

// The CRC_EXTRA values and payload lengths published with the generated C
// headers (mavlink/c_library_v2: MAVLINK_MSG_ID_*_CRC, *_LEN, *_MIN_LEN) and
// in mavlink-mappings' MAGIC_NUMBER.
var published = []struct {
	id              uint32
	name            string
	crcExtra        uint8
	minLen, fullLen int
}{
	{IDHeartbeat, "HEARTBEAT", 50, 9, 9},
	{IDSysStatus, "SYS_STATUS", 124, 31, 43},
	{IDSystemTime, "SYSTEM_TIME", 137, 12, 12},
	{IDGPSRawInt, "GPS_RAW_INT", 24, 30, 52},
	{IDAttitude, "ATTITUDE", 39, 28, 28},
	{IDGlobalPositionInt, "GLOBAL_POSITION_INT", 104, 28, 28},
	{IDMissionCount, "MISSION_COUNT", 221, 4, 9},
	{IDMissionAck, "MISSION_ACK", 153, 3, 8},
	{IDMissionItemInt, "MISSION_ITEM_INT", 38, 37, 38},
	{IDVFRHUD, "VFR_HUD", 20, 20, 20},
	{IDWind, "WIND", 1, 12, 12},
}

func TestCRCExtraPublished(t *testing.T) {
	if len(Definitions()) != len(published) {
		t.Errorf("%d definitions, %d published values to check them against", len(Definitions()), len(published))
	}
	for _, p := range published {
		d, ok := Lookup(p.id)
		if !ok {
			t.Errorf("%s (%d) not defined", p.name, p.id)
			continue
		}
		if d.Name != p.name || d.CRCExtra != p.crcExtra || d.BaseLen != p.minLen || d.Length != p.fullLen {
			t.Errorf("%d: %s crc_extra %d len %d/%d, published %s %d len %d/%d",
				p.id, d.Name, d.CRCExtra, d.BaseLen, d.Length, p.name, p.crcExtra, p.minLen, p.fullLen)
		}
	}
}

// CRCExtraOf on field lists written out by hand from common.xml, for
// messages with arrays, char arrays and extensions (which this package
// does not otherwise define).
func TestCRCExtraArrays(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields []Field
		want   uint8
	}{
		{"PARAM_VALUE", []Field{ // id 22
			{Name: "param_id", Type: "char", ArrayLen: 16},
			{Name: "param_value", Type: "float"},
			{Name: "param_type", Type: "uint8_t"},
			{Name: "param_count", Type: "uint16_t"},
			{Name: "param_index", Type: "uint16_t"},
		}, 220},
		{"STATUSTEXT", []Field{ // id 253
			{Name: "severity", Type: "uint8_t"},
			{Name: "text", Type: "char", ArrayLen: 50},
			{Name: "id", Type: "uint16_t", Extension: true},
			{Name: "chunk_seq", Type: "uint8_t", Extension: true},
		}, 83},
		{"ATTITUDE_QUATERNION", []Field{ // id 31
			{Name: "time_boot_ms", Type: "uint32_t"},
			{Name: "q1", Type: "float"}, {Name: "q2", Type: "float"}, {Name: "q3", Type: "float"}, {Name: "q4", Type: "float"},
			{Name: "rollspeed", Type: "float"}, {Name: "pitchspeed", Type: "float"}, {Name: "yawspeed", Type: "float"},
			{Name: "repr_offset_q", Type: "float", ArrayLen: 4, Extension: true},
		}, 246},
	} {
		if got := CRCExtraOf(c.name, WireOrder(c.fields)); got != c.want {
			t.Errorf("%s: crc_extra %d, published %d", c.name, got, c.want)
		}
	}
}

// sample returns one message of every definition with every field set to a
// distinct non-zero value.
func sampleMessages() []Message {
	return []Message{
		&Heartbeat{Type: 2, Autopilot: 3, BaseMode: 0x51, CustomMode: 0x01020304, SystemStatus: 4, MavlinkVersion: 3},
		&SysStatus{SensorsPresent: 1, SensorsEnabled: 2, SensorsHealth: 3, Load: 4, VoltageBattery: 5, CurrentBattery: -6,
			BatteryRemaining: -7, DropRateComm: 8, ErrorsComm: 9, ErrorsCount1: 10, ErrorsCount2: 11, ErrorsCount3: 12,
			ErrorsCount4: 13, SensorsPresentExt: 14, SensorsEnabledExt: 15, SensorsHealthExt: 16},
		&SystemTime{TimeUnixUsec: 1_700_000_000_123_456, TimeBootMs: 987_654},
		&GPSRawInt{TimeUsec: 1 << 60, FixType: 3, Lat: 407_000_001, Lon: -740_000_002, Alt: 12_345, EPH: 99, EPV: 199,
			Vel: 1234, COG: 35999, SatellitesVisible: 17, AltEllipsoid: -3000, HAcc: 800, VAcc: 900, VelAcc: 100, HdgAcc: 5, Yaw: 36000},
		&Attitude{TimeBootMs: 42, Roll: 0.125, Pitch: -0.25, Yaw: 3.1, RollSpeed: 1e-3, PitchSpeed: -2e-3, YawSpeed: 3e-3},
		&GlobalPositionInt{TimeBootMs: 43, Lat: -337_000_000, Lon: 1_512_000_000, Alt: 50_000, RelativeAlt: 30_000, VX: -1, VY: 2, VZ: -3, Hdg: 9000},
		&MissionCount{TargetSystem: 1, TargetComponent: 1, Count: 300, MissionType: 0, OpaqueID: 0xdeadbeef},
		&MissionAck{TargetSystem: 255, TargetComponent: 190, Type: 1, MissionType: 2, OpaqueID: 7},
		&MissionItemInt{TargetSystem: 1, TargetComponent: 2, Seq: 3, Frame: 6, Command: 16, Current: 1, Autocontinue: 1,
			Param1: 1, Param2: 2, Param3: 3, Param4: 4, X: 5, Y: -6, Z: 7.5, MissionType: 1},
		&VFRHUD{Airspeed: 12.5, Groundspeed: 11, Heading: 359, Throttle: 55, Alt: 420.25, Climb: -0.5},
		&Wind{Direction: 270, Speed: 4.5, SpeedZ: -0.25},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, version := range []int{1, 2} {
		var buf bytes.Buffer
		e := NewEncoder(&buf, 7, 8)
		e.Version = version
		msgs := sampleMessages()
		for _, m := range msgs {
			if err := e.Encode(m); err != nil {
				t.Fatal(err)
			}
		}
		d := NewDecoder(&buf)
		for i, want := range msgs {
			f, err := d.Next()
			if err != nil {
				t.Fatalf("v%d frame %d: %v", version, i, err)
			}
			if f.Version != version || f.Seq != uint8(i) || f.SysID != 7 || f.CompID != 8 || f.MsgID != want.MsgID() {
				t.Errorf("v%d frame %d: header %+v", version, i, f)
			}
			def, _ := Lookup(f.MsgID)
			if version == 1 && len(f.Payload) != def.BaseLen {
				t.Errorf("v1 %s: payload %d bytes, want %d (no extensions)", def.Name, len(f.Payload), def.BaseLen)
			}
			got, err := f.Message()
			if err != nil {
				t.Fatal(err)
			}
			if version == 1 { // extensions are not sent in v1
				w, _ := New(want.MsgID())
				p, _ := Marshal(want)
				_ = Unmarshal(p[:def.BaseLen], w)
				want = w
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("v%d: got %+v, want %+v", version, got, want)
			}
		}
		if _, err := d.Next(); err != io.EOF {
			t.Errorf("v%d: after the last frame: %v", version, err)
		}
		if d.Skipped != 0 || d.BadCRC != 0 || d.Unknown != 0 || d.Frames != int64(len(msgs)) {
			t.Errorf("v%d: stats %+v", version, d.Stats)
		}
	}
}

func TestV2Truncation(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf, 1, 1)
	// vz, hdg zero: the last 4 bytes of the payload are not sent.
	if err := e.Encode(&GlobalPositionInt{TimeBootMs: 1, Lat: 2, Lon: 3, Alt: 4, RelativeAlt: 5, VX: 6, VY: 7}); err != nil {
		t.Fatal(err)
	}
	// All zeros: one byte is still sent (serialization.md: "the first byte
	// of the payload is never truncated").
	if err := e.Encode(&MissionAck{}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// vy = 7 is 07 00 little-endian: its high byte goes too.
	if b[1] != 23 {
		t.Errorf("GLOBAL_POSITION_INT payload length %d, want 23", b[1])
	}
	if n := 10 + 23 + 2; b[n+1] != 1 {
		t.Errorf("all-zero MISSION_ACK payload length %d, want 1", b[n+1])
	}
	d := NewDecoder(bytes.NewReader(b))
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Message()
	if g := m.(*GlobalPositionInt); g.VY != 7 || g.VZ != 0 || g.Hdg != 0 {
		t.Errorf("truncated payload read back as %+v", g)
	}
}

func frameBytes(t *testing.T, f Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecoderResync(t *testing.T) {
	hb, _ := Marshal(&Heartbeat{Type: 1, MavlinkVersion: 3})
	good := frameBytes(t, Frame{Version: 2, Seq: 1, SysID: 1, CompID: 1, MsgID: IDHeartbeat, Payload: hb})
	v1 := frameBytes(t, Frame{Version: 1, Seq: 2, SysID: 1, CompID: 1, MsgID: IDHeartbeat, Payload: hb})
	sig := bytes.Repeat([]byte{0xFD}, SignatureLen) // start bytes inside the signature must not matter
	signed := frameBytes(t, Frame{Version: 2, IncompatFlags: IncompatSigned, Seq: 3, SysID: 1, CompID: 1, MsgID: IDHeartbeat, Payload: hb, Signature: sig})
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0xFF
	// A well-formed frame of an id nobody here defines (42: MISSION_CURRENT).
	unknown := []byte{STXv2, 2, 0, 0, 9, 1, 1, 42, 0, 0, 5, 0, 0xAA, 0xBB}

	var in []byte
	in = append(in, 0x00, 0x55, 0xFE) // garbage, a lone start byte
	in = append(in, good...)
	in = append(in, bad...)
	in = append(in, v1...)
	in = append(in, unknown...)
	in = append(in, signed...)
	in = append(in, good[:7]...) // truncated tail
	d := NewDecoder(iotestOneByte{bytes.NewReader(in)})
	var seqs []uint8
	for {
		f, err := d.Next()
		if err != nil {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("tail: %v, want ErrTruncated", err)
			}
			break
		}
		seqs = append(seqs, f.Seq)
		if f.Seq == 3 && !bytes.Equal(f.Signature, sig) {
			t.Errorf("signature %x", f.Signature)
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("after the tail: %v, want io.EOF", err)
	}
	if !reflect.DeepEqual(seqs, []uint8{1, 2, 3}) {
		t.Errorf("frames %v, want seq 1, 2, 3", seqs)
	}
	// Skipped: 3 garbage bytes, the bad frame (its start byte, then the rest
	// scanned through), 7 tail bytes.
	if want := int64(3 + len(bad) + 7); d.Skipped != want || d.BadCRC != 1 || d.Unknown != 1 || d.Frames != 3 {
		t.Errorf("stats %+v, want Skipped %d, BadCRC 1, Unknown 1, Frames 3", d.Stats, want)
	}
}

// iotestOneByte reads one byte at a time, to exercise refilling.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestUnsupportedIncompatFlag(t *testing.T) {
	hb, _ := Marshal(&Heartbeat{})
	b := frameBytes(t, Frame{Version: 2, MsgID: IDHeartbeat, Payload: hb})
	b[2] = 0x02
	if _, _, err := ParseFrame(b); !errors.Is(err, ErrFormat) {
		t.Errorf("incompat 0x02: %v, want ErrFormat", err)
	}
}
