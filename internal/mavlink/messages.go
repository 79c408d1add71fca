package mavlink

// The messages Atalaya reads from telemetry logs and writes for survey
// missions. Fields are declared in the order of the XML definitions
// (mavlink/message_definitions/v1.0/minimal.xml, common.xml,
// ardupilotmega.xml) with their XML names and types; see package doc for
// how the wire order and CRC_EXTRA follow from that.

// Message ids.
const (
	IDHeartbeat         = 0
	IDSysStatus         = 1
	IDSystemTime        = 2
	IDGPSRawInt         = 24
	IDAttitude          = 30
	IDGlobalPositionInt = 33
	IDMissionCount      = 44
	IDMissionAck        = 47
	IDMissionItemInt    = 73
	IDVFRHUD            = 74
	IDWind              = 168 // ardupilotmega
)

func init() {
	register("HEARTBEAT", &Heartbeat{})
	register("SYS_STATUS", &SysStatus{})
	register("SYSTEM_TIME", &SystemTime{})
	register("GPS_RAW_INT", &GPSRawInt{})
	register("ATTITUDE", &Attitude{})
	register("GLOBAL_POSITION_INT", &GlobalPositionInt{})
	register("MISSION_COUNT", &MissionCount{})
	register("MISSION_ACK", &MissionAck{})
	register("MISSION_ITEM_INT", &MissionItemInt{})
	register("VFR_HUD", &VFRHUD{})
	register("WIND", &Wind{})
}

// Heartbeat (HEARTBEAT, 0): the system is present and what it is.
// mavlink_version is the XML type uint8_t_mavlink_version, which is a
// uint8_t for the wire and for CRC_EXTRA.
type Heartbeat struct {
	Type           uint8  `mavlink:"type"`      // MAV_TYPE
	Autopilot      uint8  `mavlink:"autopilot"` // MAV_AUTOPILOT
	BaseMode       uint8  `mavlink:"base_mode"` // MAV_MODE_FLAG bits
	CustomMode     uint32 `mavlink:"custom_mode"`
	SystemStatus   uint8  `mavlink:"system_status"` // MAV_STATE
	MavlinkVersion uint8  `mavlink:"mavlink_version"`
}

// SysStatus (SYS_STATUS, 1): onboard sensors, battery and link health.
type SysStatus struct {
	SensorsPresent    uint32 `mavlink:"onboard_control_sensors_present"`
	SensorsEnabled    uint32 `mavlink:"onboard_control_sensors_enabled"`
	SensorsHealth     uint32 `mavlink:"onboard_control_sensors_health"`
	Load              uint16 `mavlink:"load"`              // d%
	VoltageBattery    uint16 `mavlink:"voltage_battery"`   // mV
	CurrentBattery    int16  `mavlink:"current_battery"`   // cA
	BatteryRemaining  int8   `mavlink:"battery_remaining"` // %
	DropRateComm      uint16 `mavlink:"drop_rate_comm"`    // c%
	ErrorsComm        uint16 `mavlink:"errors_comm"`
	ErrorsCount1      uint16 `mavlink:"errors_count1"`
	ErrorsCount2      uint16 `mavlink:"errors_count2"`
	ErrorsCount3      uint16 `mavlink:"errors_count3"`
	ErrorsCount4      uint16 `mavlink:"errors_count4"`
	SensorsPresentExt uint32 `mavlink:"onboard_control_sensors_present_extended,ext"`
	SensorsEnabledExt uint32 `mavlink:"onboard_control_sensors_enabled_extended,ext"`
	SensorsHealthExt  uint32 `mavlink:"onboard_control_sensors_health_extended,ext"`
}

// SystemTime (SYSTEM_TIME, 2): the vehicle's UTC clock and boot time.
type SystemTime struct {
	TimeUnixUsec uint64 `mavlink:"time_unix_usec"` // µs since the Unix epoch, 0 if unknown
	TimeBootMs   uint32 `mavlink:"time_boot_ms"`   // ms since boot
}

// GPSRawInt (GPS_RAW_INT, 24): the GPS receiver's fix, not the estimate.
type GPSRawInt struct {
	TimeUsec          uint64 `mavlink:"time_usec"` // µs, since the Unix epoch or since boot
	FixType           uint8  `mavlink:"fix_type"`  // GPS_FIX_TYPE: 2 = 2D, 3 = 3D, …
	Lat               int32  `mavlink:"lat"`       // 1e-7 degrees
	Lon               int32  `mavlink:"lon"`       // 1e-7 degrees
	Alt               int32  `mavlink:"alt"`       // mm above mean sea level
	EPH               uint16 `mavlink:"eph"`       // HDOP ×100, UINT16_MAX unknown
	EPV               uint16 `mavlink:"epv"`       // VDOP ×100, UINT16_MAX unknown
	Vel               uint16 `mavlink:"vel"`       // cm/s
	COG               uint16 `mavlink:"cog"`       // cdeg
	SatellitesVisible uint8  `mavlink:"satellites_visible"`
	AltEllipsoid      int32  `mavlink:"alt_ellipsoid,ext"` // mm above WGS-84 ellipsoid
	HAcc              uint32 `mavlink:"h_acc,ext"`         // mm
	VAcc              uint32 `mavlink:"v_acc,ext"`         // mm
	VelAcc            uint32 `mavlink:"vel_acc,ext"`       // mm/s
	HdgAcc            uint32 `mavlink:"hdg_acc,ext"`       // 1e-5 degrees
	Yaw               uint16 `mavlink:"yaw,ext"`           // cdeg, 0 unknown, 36000 north
}

// Attitude (ATTITUDE, 30): Euler angles of the vehicle (aeronautical
// frame: FRD body to NED), radians.
type Attitude struct {
	TimeBootMs uint32  `mavlink:"time_boot_ms"`
	Roll       float32 `mavlink:"roll"`  // rad, -π..π
	Pitch      float32 `mavlink:"pitch"` // rad
	Yaw        float32 `mavlink:"yaw"`   // rad
	RollSpeed  float32 `mavlink:"rollspeed"`
	PitchSpeed float32 `mavlink:"pitchspeed"`
	YawSpeed   float32 `mavlink:"yawspeed"`
}

// GlobalPositionInt (GLOBAL_POSITION_INT, 33): the fused position estimate.
type GlobalPositionInt struct {
	TimeBootMs  uint32 `mavlink:"time_boot_ms"`
	Lat         int32  `mavlink:"lat"`          // 1e-7 degrees
	Lon         int32  `mavlink:"lon"`          // 1e-7 degrees
	Alt         int32  `mavlink:"alt"`          // mm above mean sea level
	RelativeAlt int32  `mavlink:"relative_alt"` // mm above home
	VX          int16  `mavlink:"vx"`           // cm/s north
	VY          int16  `mavlink:"vy"`           // cm/s east
	VZ          int16  `mavlink:"vz"`           // cm/s down
	Hdg         uint16 `mavlink:"hdg"`          // cdeg, UINT16_MAX unknown
}

// MissionCount (MISSION_COUNT, 44): starts a mission upload.
type MissionCount struct {
	TargetSystem    uint8  `mavlink:"target_system"`
	TargetComponent uint8  `mavlink:"target_component"`
	Count           uint16 `mavlink:"count"`
	MissionType     uint8  `mavlink:"mission_type,ext"` // MAV_MISSION_TYPE, 0 mission
	OpaqueID        uint32 `mavlink:"opaque_id,ext"`
}

// MissionAck (MISSION_ACK, 47): ends a mission transfer.
type MissionAck struct {
	TargetSystem    uint8  `mavlink:"target_system"`
	TargetComponent uint8  `mavlink:"target_component"`
	Type            uint8  `mavlink:"type"` // MAV_MISSION_RESULT, 0 accepted
	MissionType     uint8  `mavlink:"mission_type,ext"`
	OpaqueID        uint32 `mavlink:"opaque_id,ext"`
}

// MissionItemInt (MISSION_ITEM_INT, 73): one mission item with integer
// (1e-7 degree) coordinates.
type MissionItemInt struct {
	TargetSystem    uint8   `mavlink:"target_system"`
	TargetComponent uint8   `mavlink:"target_component"`
	Seq             uint16  `mavlink:"seq"`
	Frame           uint8   `mavlink:"frame"`   // MAV_FRAME
	Command         uint16  `mavlink:"command"` // MAV_CMD
	Current         uint8   `mavlink:"current"`
	Autocontinue    uint8   `mavlink:"autocontinue"`
	Param1          float32 `mavlink:"param1"`
	Param2          float32 `mavlink:"param2"`
	Param3          float32 `mavlink:"param3"`
	Param4          float32 `mavlink:"param4"`
	X               int32   `mavlink:"x"` // latitude 1e-7 degrees in global frames
	Y               int32   `mavlink:"y"` // longitude 1e-7 degrees
	Z               float32 `mavlink:"z"` // altitude m, as Frame says
	MissionType     uint8   `mavlink:"mission_type,ext"`
}

// VFRHUD (VFR_HUD, 74): what a head-up display shows.
type VFRHUD struct {
	Airspeed    float32 `mavlink:"airspeed"`    // m/s
	Groundspeed float32 `mavlink:"groundspeed"` // m/s
	Heading     int16   `mavlink:"heading"`     // deg, 0..360, 0 north
	Throttle    uint16  `mavlink:"throttle"`    // %
	Alt         float32 `mavlink:"alt"`         // m above mean sea level
	Climb       float32 `mavlink:"climb"`       // m/s
}

// Wind (WIND, 168, ardupilotmega): the autopilot's wind estimate.
// Direction is where the wind comes FROM ("Wind direction (that wind is
// coming from)", ardupilotmega.xml), degrees clockwise from north: a wind
// of Direction 270 blows from the west, towards the east.
type Wind struct {
	Direction float32 `mavlink:"direction"` // deg, the wind comes from
	Speed     float32 `mavlink:"speed"`     // m/s in the ground plane
	SpeedZ    float32 `mavlink:"speed_z"`   // m/s vertical
}

// MsgID implements Message.
func (*Heartbeat) MsgID() uint32 { return IDHeartbeat }

// MsgID implements Message.
func (*SysStatus) MsgID() uint32 { return IDSysStatus }

// MsgID implements Message.
func (*SystemTime) MsgID() uint32 { return IDSystemTime }

// MsgID implements Message.
func (*GPSRawInt) MsgID() uint32 { return IDGPSRawInt }

// MsgID implements Message.
func (*Attitude) MsgID() uint32 { return IDAttitude }

// MsgID implements Message.
func (*GlobalPositionInt) MsgID() uint32 { return IDGlobalPositionInt }

// MsgID implements Message.
func (*MissionCount) MsgID() uint32 { return IDMissionCount }

// MsgID implements Message.
func (*MissionAck) MsgID() uint32 { return IDMissionAck }

// MsgID implements Message.
func (*MissionItemInt) MsgID() uint32 { return IDMissionItemInt }

// MsgID implements Message.
func (*VFRHUD) MsgID() uint32 { return IDVFRHUD }

// MsgID implements Message.
func (*Wind) MsgID() uint32 { return IDWind }
