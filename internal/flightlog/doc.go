// Package flightlog owns drone flight logs: it turns them into a time series
// of positions, altitude, attitude and wind (a Track) that the rest of
// Atalaya uses to place imaging-spectrometer pixels and point gas-sensor
// samples on the ground. It reads and writes PX4 ULog files (ulog.go,
// write.go), reads MAVLink telemetry logs (.tlog, tlog.go, framing in
// internal/mavlink) and a documented CSV track (csvtrack.go,
// docs/flight-track-csv.md), all into the same Track, and projects imaging
// passes onto the ground (footprint.go).
//
// # ULog
//
// Read and Decode parse a whole ULog file (format: PX4 "ULog File Format",
// docs.px4.io/main/en/dev_log/ulog_file_format.html; PX4/pyulog core.py is the
// reference implementation this reader follows where the text is silent):
// the header, the definitions section (flag bits, formats with nested types
// and padding, info, multi-info, parameters and default parameters) and the
// data section (add/remove logged, data, logging, tagged logging, sync,
// dropout), including data appended after the offsets in the flag bits
// message. Every logged topic instance becomes a Topic: a column table with
// one fixed-size little-endian record per message, in file order, its uint64
// "timestamp" column and its fields flattened with pyulog's names ("q[0]",
// "nested.x", "arr[1].y"). Padding fields ("_padding…") are never fields.
//
// A corrupt or truncated file gives back both what could be read and an
// error: Read returns a non-nil *Log whenever the 16-byte header is valid,
// and an error wrapping ErrTruncated or ErrCorrupt (an *OffsetError naming
// the byte offset) for the first problem; Log.Problems lists the first
// MaxProblems of them. After a framing error the reader resynchronises on the
// next sync message, as pyulog does. Allocation is bounded by the input: a
// record is at most 65535 bytes (the message size field is a uint16), type
// nesting is at most MaxNesting deep, and the flattened field tables of all
// topics together are capped (MaxFields fields, MaxFieldNameBytes bytes of
// names) so that a short hostile format string cannot blow memory up.
//
// Writer writes ULog files that PX4's own tools read (pyulog, Flight
// Review): topics vehicle_global_position, vehicle_attitude,
// vehicle_gps_position, wind (layouts generated from current PX4 message
// definitions exactly as PX4 generates them: fields sorted by size, padded to
// 8 bytes) and atalaya_gas_sensor, Atalaya's point gas-sensor samples.
//
// # Units
//
//   - time: µs since boot (the ULog "timestamp"), as uint64; as time.Time in
//     UTC when the log has GPS time (time_utc_usec), see Track;
//   - latitude and longitude: degrees, WGS-84 (older logs store int32
//     1e-7 degrees in vehicle_gps_position and sensor_gps; newer ones float64
//     degrees in latitude_deg/longitude_deg; Track converts both);
//   - altitude: metres above mean sea level (older GPS topics store int32 mm);
//   - attitude: unit quaternion q = (w, x, y, z) rotating body (FRD) to
//     earth (NED) frame, as PX4 logs it, and roll, pitch, yaw in radians
//     (Tait-Bryan ZYX) derived from it;
//   - wind: m/s towards north and east (PX4's windspeed_north/east: the
//     velocity of the air, not the direction it comes from);
//   - gas concentration: ppm (µmol/mol) per channel.
//
// Values keep their stored types in a Topic (Uint64s and Int64s are exact;
// Float64s is exact for every type but 64-bit integers beyond 2^53).
package flightlog
