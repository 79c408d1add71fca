package flightlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// msgField is one field of a PX4 .msg definition, in .msg order.
type msgField struct {
	typ  string // ULog basic type
	n    int    // array length, 0 for a scalar
	name string
}

// px4Format builds a ULog format the way PX4's uORB generator does
// (Tools/msg/px_generate_uorb_topic_helper.py): fields sorted by element
// size, largest first, keeping .msg order among equals, then uint8_t
// padding so the struct size is a multiple of its largest alignment.
func px4Format(name string, fields []msgField) string {
	f := slices.Clone(fields)
	sort.SliceStable(f, func(i, j int) bool {
		return basicType(f[i].typ).Size() > basicType(f[j].typ).Size()
	})
	size, align := 0, 1
	for _, fl := range f {
		s := basicType(fl.typ).Size()
		size += s * max(fl.n, 1)
		align = max(align, s)
	}
	if pad := (align - size%align) % align; pad > 0 {
		f = append(f, msgField{"uint8_t", pad, "_padding0"})
	}
	fm := &Format{Name: name}
	for _, fl := range f {
		fm.Fields = append(fm.Fields, FormatField{Type: fl.typ, ArrayLen: fl.n, Name: fl.name})
	}
	return fm.String()
}

// Formats of the topics Writer writes, from PX4 main's msg/ definitions:
// VehicleGlobalPosition.msg (msg/versioned), VehicleAttitude.msg,
// SensorGps.msg (logged as vehicle_gps_position) and Wind.msg.
var (
	formatGlobalPosition = px4Format("vehicle_global_position", []msgField{
		{"uint64_t", 0, "timestamp"}, {"uint64_t", 0, "timestamp_sample"},
		{"double", 0, "lat"}, {"double", 0, "lon"}, {"float", 0, "alt"}, {"float", 0, "alt_ellipsoid"},
		{"bool", 0, "lat_lon_valid"}, {"bool", 0, "alt_valid"},
		{"float", 0, "delta_alt"}, {"float", 0, "delta_terrain"},
		{"uint8_t", 0, "lat_lon_reset_counter"}, {"uint8_t", 0, "alt_reset_counter"}, {"uint8_t", 0, "terrain_reset_counter"},
		{"float", 0, "eph"}, {"float", 0, "epv"}, {"float", 0, "terrain_alt"},
		{"bool", 0, "terrain_alt_valid"}, {"bool", 0, "dead_reckoning"},
	})
	formatAttitude = px4Format("vehicle_attitude", []msgField{
		{"uint64_t", 0, "timestamp"}, {"uint64_t", 0, "timestamp_sample"},
		{"float", 4, "q"}, {"float", 4, "delta_q_reset"}, {"uint8_t", 0, "quat_reset_counter"},
	})
	formatGPS = px4Format("vehicle_gps_position", []msgField{
		{"uint64_t", 0, "timestamp"}, {"uint64_t", 0, "timestamp_sample"}, {"uint32_t", 0, "device_id"},
		{"double", 0, "latitude_deg"}, {"double", 0, "longitude_deg"},
		{"double", 0, "altitude_msl_m"}, {"double", 0, "altitude_ellipsoid_m"},
		{"float", 0, "s_variance_m_s"}, {"float", 0, "c_variance_rad"}, {"uint8_t", 0, "fix_type"},
		{"float", 0, "eph"}, {"float", 0, "epv"}, {"float", 0, "hdop"}, {"float", 0, "vdop"},
		{"int32_t", 0, "noise_per_ms"}, {"uint16_t", 0, "automatic_gain_control"},
		{"uint8_t", 0, "jamming_state"}, {"int32_t", 0, "jamming_indicator"},
		{"uint8_t", 0, "spoofing_state"}, {"uint8_t", 0, "authentication_state"},
		{"float", 0, "vel_m_s"}, {"float", 0, "vel_n_m_s"}, {"float", 0, "vel_e_m_s"}, {"float", 0, "vel_d_m_s"},
		{"float", 0, "cog_rad"}, {"bool", 0, "vel_ned_valid"},
		{"int32_t", 0, "timestamp_time_relative"}, {"uint64_t", 0, "time_utc_usec"},
		{"uint8_t", 0, "satellites_used"}, {"uint32_t", 0, "system_error"},
		{"float", 0, "heading"}, {"float", 0, "heading_offset"}, {"float", 0, "heading_accuracy"},
		{"float", 0, "rtcm_injection_rate"}, {"uint8_t", 0, "selected_rtcm_instance"},
		{"bool", 0, "rtcm_crc_failed"}, {"uint8_t", 0, "rtcm_msg_used"},
		{"uint8_t", 0, "quality_corrections"}, {"uint8_t", 0, "quality_receiver"},
		{"uint8_t", 0, "quality_gnss_signals"}, {"uint8_t", 0, "quality_post_processing"},
	})
	formatWind = px4Format("wind", []msgField{
		{"uint64_t", 0, "timestamp"}, {"uint64_t", 0, "timestamp_sample"},
		{"float", 0, "windspeed_north"}, {"float", 0, "windspeed_east"},
		{"float", 0, "variance_north"}, {"float", 0, "variance_east"},
		{"float", 0, "tas_innov"}, {"float", 0, "tas_innov_var"},
		{"float", 0, "beta_innov"}, {"float", 0, "beta_innov_var"},
	})
	// formatGas is Atalaya's own topic for a point gas sensor: up to
	// GasChannels concentrations (ppm, NaN where a channel has no reading);
	// the channels' gases are named by the info key atalaya_gas_channels.
	formatGas = px4Format("atalaya_gas_sensor", []msgField{
		{"uint64_t", 0, "timestamp"}, {"uint64_t", 0, "timestamp_sample"}, {"uint32_t", 0, "device_id"},
		{"float", GasChannels, "concentration_ppm"}, {"uint8_t", 0, "channel_count"},
	})
)

// GasChannels is how many concentrations one atalaya_gas_sensor message holds.
const GasChannels = 4

// GlobalPosition is a vehicle_global_position message.
type GlobalPosition struct {
	Timestamp uint64  // µs since boot
	Lat, Lon  float64 // degrees
	Alt       float32 // m AMSL
	Eph, Epv  float32 // m, 1σ horizontal and vertical error
}

// Attitude is a vehicle_attitude message.
type Attitude struct {
	Timestamp uint64
	Q         [4]float32 // w, x, y, z
}

// GPS is a vehicle_gps_position message.
type GPS struct {
	Timestamp        uint64
	Lat, Lon         float64 // degrees
	AltMSL           float64 // m
	TimeUTC          uint64  // µs since the Unix epoch; 0 if unknown
	FixType          uint8   // 3 for a 3D fix
	Satellites       uint8
	Eph, Epv         float32
	VelN, VelE, VelD float32 // m/s
}

// Wind is a wind message.
type Wind struct {
	Timestamp   uint64
	North, East float32 // m/s
	VarNorth    float32 // (m/s)²
	VarEast     float32
}

// GasSample is an atalaya_gas_sensor message.
type GasSample struct {
	Timestamp uint64
	DeviceID  uint32
	PPM       [GasChannels]float32
	Channels  uint8 // how many of PPM are used
}

// WriterOptions sets the header and info messages of a written log.
type WriterOptions struct {
	StartTime   uint64            // header timestamp, µs since boot
	SysName     string            // default "Atalaya simulator"
	VerSW       string            // default "atalaya"
	VerHW       string            // default "ATALAYA_SIM"
	Info        map[string]string // more char[] info messages
	GasChannels []string          // gases of the gas sensor channels, at most GasChannels
}

// Writer writes a ULog file. Topics are added on their first message.
// Messages must be written in time order across topics, as PX4 does.
type Writer struct {
	w      *bufio.Writer
	err    error
	topics map[string]*wtopic
	nextID uint16
	buf    []byte
}

type wtopic struct {
	id  uint16
	lay *layout
	rec []byte
}

// NewWriter writes the header and definitions section to w.
func NewWriter(w io.Writer, opt WriterOptions) (*Writer, error) {
	if len(opt.GasChannels) > GasChannels {
		return nil, fmt.Errorf("flightlog: %d gas channels, at most %d", len(opt.GasChannels), GasChannels)
	}
	wr := &Writer{w: bufio.NewWriter(w), topics: map[string]*wtopic{}}
	hdr := make([]byte, 16)
	copy(hdr, magic[:])
	hdr[7] = 1
	binary.LittleEndian.PutUint64(hdr[8:], opt.StartTime)
	wr.write(hdr)
	wr.msg('B', make([]byte, 40)) // no flags, no appended data
	info := func(key, val string) {
		k := fmt.Sprintf("char[%d] %s", len(val), key)
		wr.msg('I', append(append([]byte{byte(len(k))}, k...), val...))
	}
	info("sys_name", orDefault(opt.SysName, "Atalaya simulator"))
	info("ver_sw", orDefault(opt.VerSW, "atalaya"))
	info("ver_hw", orDefault(opt.VerHW, "ATALAYA_SIM"))
	if len(opt.GasChannels) > 0 {
		info("atalaya_gas_channels", strings.Join(opt.GasChannels, ","))
	}
	keys := make([]string, 0, len(opt.Info))
	for k := range opt.Info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(k) > 200 || len(opt.Info[k]) > 60000 {
			return nil, fmt.Errorf("flightlog: info %.40q too long", k)
		}
		info(k, opt.Info[k])
	}
	ls := layouts{formats: map[string]*Format{}, sizes: map[string]int{}, done: map[string]*layout{}}
	for _, s := range []string{formatGlobalPosition, formatAttitude, formatGPS, formatWind, formatGas} {
		f, err := ParseFormat(s)
		if err != nil {
			return nil, fmt.Errorf("flightlog: writer format: %w", err) // programmer error
		}
		ls.formats[f.Name] = f
		wr.msg('F', []byte(s))
	}
	for name := range ls.formats {
		lay, err := ls.get(name)
		if err != nil {
			return nil, fmt.Errorf("flightlog: writer format: %w", err)
		}
		wr.topics[name] = &wtopic{id: math.MaxUint16, lay: lay, rec: make([]byte, lay.size)}
	}
	return wr, wr.err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}

func (w *Writer) msg(typ byte, body []byte) {
	if len(body) > 65535 && w.err == nil {
		w.err = fmt.Errorf("flightlog: %q message of %d bytes", typ, len(body))
	}
	w.buf = append(w.buf[:0], 0, 0, typ)
	binary.LittleEndian.PutUint16(w.buf, uint16(len(body)))
	w.buf = append(w.buf, body...)
	w.write(w.buf)
}

// start returns the topic's zeroed record, adding the topic if needed.
func (w *Writer) start(name string) *wtopic {
	t := w.topics[name]
	if t.id == math.MaxUint16 {
		t.id = w.nextID
		w.nextID++
		body := []byte{0, 0, 0}
		binary.LittleEndian.PutUint16(body[1:], t.id)
		w.msg('A', append(body, name...))
	}
	clear(t.rec)
	return t
}

func (t *wtopic) off(name string) int {
	i, ok := t.lay.index[name]
	if !ok {
		panic("flightlog: writer: no field " + name) // programmer error
	}
	return t.lay.fields[i].Offset
}

func (t *wtopic) u64(name string, v uint64) { binary.LittleEndian.PutUint64(t.rec[t.off(name):], v) }
func (t *wtopic) u32(name string, v uint32) { binary.LittleEndian.PutUint32(t.rec[t.off(name):], v) }
func (t *wtopic) u8(name string, v uint8)   { t.rec[t.off(name)] = v }
func (t *wtopic) f64(name string, v float64) {
	binary.LittleEndian.PutUint64(t.rec[t.off(name):], math.Float64bits(v))
}
func (t *wtopic) f32(name string, v float32) {
	binary.LittleEndian.PutUint32(t.rec[t.off(name):], math.Float32bits(v))
}

func (w *Writer) data(t *wtopic) error {
	body := make([]byte, 2, 2+len(t.rec))
	binary.LittleEndian.PutUint16(body, t.id)
	w.msg('D', append(body, t.rec...))
	return w.err
}

// WriteGlobalPosition writes a vehicle_global_position message.
func (w *Writer) WriteGlobalPosition(p GlobalPosition) error {
	t := w.start("vehicle_global_position")
	t.u64("timestamp", p.Timestamp)
	t.u64("timestamp_sample", p.Timestamp)
	t.f64("lat", p.Lat)
	t.f64("lon", p.Lon)
	t.f32("alt", p.Alt)
	t.f32("alt_ellipsoid", float32(math.NaN()))
	t.u8("lat_lon_valid", 1)
	t.u8("alt_valid", 1)
	t.f32("eph", p.Eph)
	t.f32("epv", p.Epv)
	t.f32("terrain_alt", float32(math.NaN()))
	return w.data(t)
}

// WriteAttitude writes a vehicle_attitude message.
func (w *Writer) WriteAttitude(a Attitude) error {
	t := w.start("vehicle_attitude")
	t.u64("timestamp", a.Timestamp)
	t.u64("timestamp_sample", a.Timestamp)
	for i, q := range a.Q {
		t.f32(fmt.Sprintf("q[%d]", i), q)
	}
	return w.data(t)
}

// WriteGPS writes a vehicle_gps_position message.
func (w *Writer) WriteGPS(g GPS) error {
	t := w.start("vehicle_gps_position")
	t.u64("timestamp", g.Timestamp)
	t.u64("timestamp_sample", g.Timestamp)
	t.f64("latitude_deg", g.Lat)
	t.f64("longitude_deg", g.Lon)
	t.f64("altitude_msl_m", g.AltMSL)
	t.f64("altitude_ellipsoid_m", math.NaN())
	t.u64("time_utc_usec", g.TimeUTC)
	t.u8("fix_type", g.FixType)
	t.u8("satellites_used", g.Satellites)
	t.f32("eph", g.Eph)
	t.f32("epv", g.Epv)
	t.f32("vel_n_m_s", g.VelN)
	t.f32("vel_e_m_s", g.VelE)
	t.f32("vel_d_m_s", g.VelD)
	t.f32("vel_m_s", float32(math.Hypot(float64(g.VelN), float64(g.VelE))))
	t.f32("cog_rad", float32(math.Atan2(float64(g.VelE), float64(g.VelN))))
	t.u8("vel_ned_valid", 1)
	t.f32("heading", float32(math.NaN()))
	t.f32("heading_offset", float32(math.NaN()))
	t.f32("heading_accuracy", float32(math.NaN()))
	return w.data(t)
}

// WriteWind writes a wind message.
func (w *Writer) WriteWind(wd Wind) error {
	t := w.start("wind")
	t.u64("timestamp", wd.Timestamp)
	t.u64("timestamp_sample", wd.Timestamp)
	t.f32("windspeed_north", wd.North)
	t.f32("windspeed_east", wd.East)
	t.f32("variance_north", wd.VarNorth)
	t.f32("variance_east", wd.VarEast)
	return w.data(t)
}

// WriteGas writes an atalaya_gas_sensor message.
func (w *Writer) WriteGas(g GasSample) error {
	if g.Channels > GasChannels {
		return fmt.Errorf("flightlog: gas sample with %d channels, at most %d", g.Channels, GasChannels)
	}
	t := w.start("atalaya_gas_sensor")
	t.u64("timestamp", g.Timestamp)
	t.u64("timestamp_sample", g.Timestamp)
	t.u32("device_id", g.DeviceID)
	for i, v := range g.PPM {
		t.f32(fmt.Sprintf("concentration_ppm[%d]", i), v)
	}
	t.u8("channel_count", g.Channels)
	return w.data(t)
}

// WriteLog writes a logged string ('L'); level is '0' (emergency) to '7'
// (debug), as PX4 writes it.
func (w *Writer) WriteLog(level byte, timestamp uint64, text string) error {
	if len(text) > 60000 {
		return errors.New("flightlog: log text too long")
	}
	body := make([]byte, 9, 9+len(text))
	body[0] = level
	binary.LittleEndian.PutUint64(body[1:], timestamp)
	w.msg('L', append(body, text...))
	return w.err
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// WriteTrack writes a track as a ULog file: per sample a
// vehicle_global_position, a vehicle_gps_position with the UTC time (if the
// sample has one), a vehicle_attitude and a wind message (if it has them).
// Altitude is stored as float32 in vehicle_global_position, as PX4 does.
func WriteTrack(w io.Writer, tr *Track) error {
	var start uint64
	if len(tr.Samples) > 0 {
		start = tr.Samples[0].T
	}
	opt := WriterOptions{StartTime: start, GasChannels: tr.GasChannels}
	if len(tr.GasInfo) > 0 {
		opt.Info = map[string]string{}
		for ch, v := range tr.GasInfo {
			opt.Info[GasInfoKey(ch)] = v
		}
	}
	wr, err := NewWriter(w, opt)
	if err != nil {
		return err
	}
	gas := tr.Gas
	for _, s := range tr.Samples {
		for len(gas) > 0 && gas[0].Timestamp <= s.T {
			wr.WriteGas(gas[0])
			gas = gas[1:]
		}
		wr.WriteGlobalPosition(GlobalPosition{Timestamp: s.T, Lat: s.Lat, Lon: s.Lon, Alt: float32(s.Alt)})
		if !s.Time.IsZero() {
			wr.WriteGPS(GPS{Timestamp: s.T, Lat: s.Lat, Lon: s.Lon, AltMSL: s.Alt, TimeUTC: uint64(s.Time.UnixMicro()), FixType: 3})
		}
		if s.HasAttitude {
			wr.WriteAttitude(Attitude{Timestamp: s.T, Q: s.Q})
		}
		if s.HasWind {
			wr.WriteWind(Wind{Timestamp: s.T, North: float32(s.WindNorth), East: float32(s.WindEast)})
		}
	}
	for _, g := range gas {
		wr.WriteGas(g)
	}
	if err := wr.Flush(); err != nil {
		return fmt.Errorf("flightlog: write track: %w", err)
	}
	return nil
}

// GasInfoKey is the info key describing a gas sensor channel (the
// instrument's model, free text).
func GasInfoKey(channel string) string { return "atalaya_gas_channel." + channel }
