// Writes a telemetry log (.tlog: each frame preceded by its 8-byte
// big-endian UNIX time in µs) of MAVLink 1 and 2 frames serialised by
// node-mavlink, and prints, as JSON, every record it wrote: time, header
// and the message's fields by their XML names (uint64 as strings).
//
//   node gen_tlog.mjs OUT.tlog
import { writeFileSync } from 'node:fs'
import {
  MavLinkProtocolV1, MavLinkProtocolV2, MavLinkPacketSignature,
  minimal, common, ardupilotmega,
} from 'node-mavlink'

const out = process.argv[2]
if (!out) throw new Error('usage: node gen_tlog.mjs OUT.tlog')

const chunks = []
const records = []
let seq = 0
const key = MavLinkPacketSignature.key('atalaya test key')

function fieldsOf(msg) {
  const f = {}
  for (const fd of msg.constructor.FIELDS) {
    const v = msg[fd.name]
    f[fd.source] = typeof v === 'bigint' ? v.toString() : v
  }
  return f
}

// emit serialises msg with protocol version v (1 or 2) at tlog time t (µs).
function emit(t, v, msg, { sysid = 1, compid = 1, signed = false } = {}) {
  const proto = v === 1
    ? new MavLinkProtocolV1(sysid, compid)
    : new MavLinkProtocolV2(sysid, compid, signed ? MavLinkProtocolV2.IFLAG_SIGNED : 0)
  let buf = proto.serialize(msg, seq)
  if (signed) buf = proto.sign(buf, 7, key, 1_700_000_000_000)
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64BE(BigInt(t))
  chunks.push(ts, buf)
  records.push({
    t: String(t), version: v, seq, sysid, compid, msgid: msg.constructor.MSG_ID,
    name: msg.constructor.MSG_NAME, signed, payloadLength: buf.readUInt8(1), fields: fieldsOf(msg),
  })
  seq = (seq + 1) & 0xff
}

const t0 = 1_700_000_000_000_000 // 2023-11-14T22:13:20Z in µs
const f32 = Math.fround
for (let i = 0; i < 40; i++) {
  const t = t0 + i * 200_000
  const boot = 100_000 + i * 200
  const v = i % 4 === 3 ? 1 : 2 // every fourth sample in MAVLink 1
  if (i % 5 === 0) {
    const hb = new minimal.Heartbeat()
    hb.type = 2; hb.autopilot = 3; hb.baseMode = 81; hb.customMode = 4 + i; hb.systemStatus = 4; hb.mavlinkVersion = 3
    emit(t, 2, hb)
  }
  const gp = new common.GlobalPositionInt()
  gp.timeBootMs = boot
  gp.lat = 407_000_000 + i * 137
  gp.lon = -740_000_000 - i * 91
  gp.alt = 420_000 + i * 10
  gp.relativeAlt = 300_000 + i * 10
  gp.vx = 1000 - i; gp.vy = -i * 3
  gp.vz = i % 2 ? 5 : 0 // zeros at the end of the payload are truncated in v2
  gp.hdg = i % 2 ? (i * 900) % 36000 : 0
  emit(t, v, gp)
  const at = new common.Attitude()
  at.timeBootMs = boot
  at.roll = f32(0.2 * Math.sin(i)); at.pitch = f32(-0.1 * Math.cos(i)); at.yaw = f32(((i * 0.3) % 6) - 3)
  at.rollspeed = f32(0.01 * i); at.pitchspeed = f32(-0.02); at.yawspeed = 0
  emit(t + 1000, v, at, { signed: v === 2 && i % 7 === 0 })
  const gps = new common.GpsRawInt()
  gps.timeUsec = BigInt(t - 50_000)
  gps.fixType = i < 2 ? 1 : 3
  gps.lat = 407_000_000 + i * 137 + 5; gps.lon = -740_000_000 - i * 91 - 5; gps.alt = 421_000 + i * 10
  gps.eph = 120; gps.epv = 180; gps.vel = 1000; gps.cog = 35990; gps.satellitesVisible = 14
  gps.altEllipsoid = 390_000; gps.hAcc = 800; gps.vAcc = 1200; gps.velAcc = 100; gps.hdgAcc = 0; gps.yaw = 0
  emit(t + 2000, v, gps)
  if (i % 2 === 0) {
    const w = new ardupilotmega.Wind()
    w.direction = f32((i * 37) % 360); w.speed = f32(3 + i * 0.1); w.speedZ = f32(-0.25)
    emit(t + 3000, 2, w, { sysid: 1, compid: 1 })
  }
  if (i % 10 === 0) {
    const vh = new common.VfrHud()
    vh.airspeed = f32(12.5); vh.groundspeed = f32(11.25); vh.heading = 87; vh.throttle = 55; vh.alt = f32(420.5); vh.climb = f32(-0.5)
    emit(t + 4000, 2, vh)
    const st = new common.SystemTime()
    st.timeUnixUsec = BigInt(t); st.timeBootMs = boot
    emit(t + 5000, 2, st)
  }
}
// A message whose payload is all zeros (node-mavlink then sends 0 bytes).
// Its constructor sets enum fields to the enum's name ("ACCEPTED"), which
// serialises as 0; set the numbers.
const ack = new common.MissionAck()
ack.targetSystem = 0; ack.targetComponent = 0; ack.type = 0; ack.missionType = 0; ack.opaqueId = 0
emit(t0 + 40 * 200_000, 2, ack, { sysid: 255, compid: 190 })

writeFileSync(out, Buffer.concat(chunks))
process.stdout.write(JSON.stringify(records))
