// Parses a stream of MAVLink frames with node-mavlink's splitter and
// parser and the minimal, common and ardupilotmega registries, and prints,
// as JSON, the splitter's counts and every packet: header, checksum,
// signature presence and the message's fields by their XML names (uint64
// as strings).
//
//   node parse.mjs FILE
import { createReadStream } from 'node:fs'
import {
  MavLinkPacketSplitter, MavLinkPacketParser, minimal, common, ardupilotmega,
} from 'node-mavlink'

const file = process.argv[2]
if (!file) throw new Error('usage: node parse.mjs FILE')
const REGISTRY = { ...minimal.REGISTRY, ...common.REGISTRY, ...ardupilotmega.REGISTRY }

const splitter = new MavLinkPacketSplitter()
const packets = []
createReadStream(file).pipe(splitter).pipe(new MavLinkPacketParser())
  .on('data', packet => {
    const h = packet.header
    const clazz = REGISTRY[h.msgid]
    const p = {
      stx: packet.buffer[0], payloadLength: h.payloadLength, incompat: h.incompatibilityFlags, compat: h.compatibilityFlags,
      seq: h.seq, sysid: h.sysid, compid: h.compid, msgid: h.msgid, crc: packet.crc, signed: packet.signature !== null,
    }
    if (clazz) {
      const data = packet.protocol.data(packet.payload, clazz)
      p.name = clazz.MSG_NAME
      p.fields = {}
      for (const fd of clazz.FIELDS) {
        const v = data[fd.name]
        p.fields[fd.source] = typeof v === 'bigint' ? v.toString() : v
      }
    }
    packets.push(p)
  })
  .on('end', () => {
    process.stdout.write(JSON.stringify({
      valid: splitter.validPackages, invalid: splitter.invalidPackages, unknown: splitter.unknownPackagesCount, packets,
    }))
  })
