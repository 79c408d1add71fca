package mavlink

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Frames (MAV_FRAME) and commands (MAV_CMD) a survey mission uses, from
// common.xml.
const (
	FrameGlobal               = 0  // MAV_FRAME_GLOBAL: altitude above mean sea level
	FrameMission              = 2  // MAV_FRAME_MISSION: not a position (DO_ commands)
	FrameGlobalRelativeAlt    = 3  // MAV_FRAME_GLOBAL_RELATIVE_ALT: altitude above home
	FrameGlobalInt            = 5  // MAV_FRAME_GLOBAL_INT (deprecated alias of 0 for *_INT messages)
	FrameGlobalRelativeAltInt = 6  // MAV_FRAME_GLOBAL_RELATIVE_ALT_INT (deprecated alias of 3)
	FrameGlobalTerrainAlt     = 10 // MAV_FRAME_GLOBAL_TERRAIN_ALT: altitude above terrain
	FrameGlobalTerrainAltInt  = 11 // MAV_FRAME_GLOBAL_TERRAIN_ALT_INT (deprecated alias of 10)

	CmdNavWaypoint       = 16  // MAV_CMD_NAV_WAYPOINT: param1 hold s, param2 accept radius m, param4 yaw deg
	CmdNavReturnToLaunch = 20  // MAV_CMD_NAV_RETURN_TO_LAUNCH
	CmdNavTakeoff        = 22  // MAV_CMD_NAV_TAKEOFF: param1 pitch deg (planes), param4 yaw deg, z altitude
	CmdDoSetCamTriggDist = 206 // MAV_CMD_DO_SET_CAM_TRIGG_DIST: param1 distance m (0 stops), param3 trigger once now (1)
	MissionTypeMission   = 0   // MAV_MISSION_TYPE_MISSION
	MissionAccepted      = 0   // MAV_MISSION_ACCEPTED
	GCSSystemID          = 255 // the system id ground stations use by convention
	CompIDMissionPlanner = 190 // MAV_COMP_ID_MISSIONPLANNER
	maxMissionItems      = math.MaxUint16
)

// MissionItem is one item of a mission, as MISSION_ITEM_INT carries it.
type MissionItem struct {
	Seq          uint16 // position in the mission, 0..n-1
	Frame        uint8  // MAV_FRAME of X, Y, Z (FrameGlobalRelativeAltInt for a survey)
	Command      uint16 // MAV_CMD
	Current      uint8  // 1 for the item to start at (usually the first)
	Autocontinue uint8  // 1 to go on to the next item when this one is done
	Param1       float32
	Param2       float32
	Param3       float32
	Param4       float32
	X            int32   // latitude, 1e-7 degrees (0 when the command has no position)
	Y            int32   // longitude, 1e-7 degrees
	Z            float32 // altitude, m, relative to what Frame says
}

// Int returns the MISSION_ITEM_INT that carries the item to a vehicle.
func (it MissionItem) Int(targetSystem, targetComponent uint8) *MissionItemInt {
	return &MissionItemInt{
		TargetSystem: targetSystem, TargetComponent: targetComponent,
		Seq: it.Seq, Frame: it.Frame, Command: it.Command, Current: it.Current, Autocontinue: it.Autocontinue,
		Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4,
		X: it.X, Y: it.Y, Z: it.Z, MissionType: MissionTypeMission,
	}
}

func checkMission(items []MissionItem) error {
	if len(items) > maxMissionItems {
		return fmt.Errorf("mavlink: mission of %d items, at most %d", len(items), maxMissionItems)
	}
	for i, it := range items {
		if int(it.Seq) != i {
			return fmt.Errorf("mavlink: mission item %d has seq %d: items must be numbered 0..n-1 in order", i, it.Seq)
		}
	}
	return nil
}

// WriteMission writes a mission as a vehicle receives it in the mission
// upload protocol: MISSION_COUNT, then one MISSION_ITEM_INT per item, as
// MAVLink 2 frames numbered from 0. sysid and compid address the vehicle
// (target_system, target_component); the frames are sent as a ground
// station (system GCSSystemID, component CompIDMissionPlanner). Items must
// be numbered 0..n-1 in order. (ArduPilot takes item 0 as the home position
// and does not fly it; PX4 flies every item.)
func WriteMission(w io.Writer, items []MissionItem, sysid, compid uint8) error {
	if err := checkMission(items); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	e := NewEncoder(bw, GCSSystemID, CompIDMissionPlanner)
	if err := e.Encode(&MissionCount{TargetSystem: sysid, TargetComponent: compid, Count: uint16(len(items)), MissionType: MissionTypeMission}); err != nil {
		return err
	}
	for _, it := range items {
		if err := e.Encode(it.Int(sysid, compid)); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mavlink: write mission: %w", err)
	}
	return nil
}

// floatFrame maps the deprecated *_INT frames to the frames that
// MISSION_ITEM (float degrees), and so the WPL file, uses.
func floatFrame(f uint8) uint8 {
	switch f {
	case FrameGlobalInt:
		return FrameGlobal
	case FrameGlobalRelativeAltInt:
		return FrameGlobalRelativeAlt
	case FrameGlobalTerrainAltInt:
		return FrameGlobalTerrainAlt
	}
	return f
}

// WriteWPL writes a mission in the QGC WPL 110 text format that Mission
// Planner and QGroundControl import (mavlink.io/en/file_formats/): the
// line "QGC WPL 110", then one tab-separated line per item:
//
//	INDEX CURRENT_WP COORD_FRAME COMMAND PARAM1 PARAM2 PARAM3 PARAM4 LATITUDE LONGITUDE ALTITUDE AUTOCONTINUE
//
// Latitude and longitude are written in degrees (X, Y / 1e7, exactly, with
// 7 decimals), and the *_INT frames as their float equivalents (6 → 3,
// 5 → 0, 11 → 10), since the file holds float coordinates as MISSION_ITEM
// does. Parameters are written with the shortest decimal that reads back
// as the same float32. Items must be numbered 0..n-1 in order.
func WriteWPL(w io.Writer, items []MissionItem) error {
	if err := checkMission(items); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("QGC WPL 110\n")
	f32 := func(v float32) string { return strconv.FormatFloat(float64(v), 'f', -1, 32) }
	for _, it := range items {
		fmt.Fprintf(bw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n",
			it.Seq, it.Current, floatFrame(it.Frame), it.Command,
			f32(it.Param1), f32(it.Param2), f32(it.Param3), f32(it.Param4),
			e7(it.X), e7(it.Y), f32(it.Z), it.Autocontinue)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mavlink: write wpl: %w", err)
	}
	return nil
}

// e7 formats v·1e-7 exactly with 7 decimals.
func e7(v int32) string {
	sign := ""
	u := int64(v)
	if u < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%07d", sign, u/10_000_000, u%10_000_000)
}
