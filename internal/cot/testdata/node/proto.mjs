// TAK protocol version 1 with @tak-ps/node-cot (independent of Atalaya):
// decodes TakMessage payloads (CoTParser.from_proto, which also validates
// the event against node-cot's schema) and encodes XML events
// (CoTParser.from_xml, then CoTParser.to_proto).
// Input: the file named by argv[2], JSON {"decode": [base64 payload],
// "encode": [XML event]}.
// Output (stdout, JSON): {"decoded": [{ok, error, uid, type, how, time,
// start, stale, lat, lon, hae, ce, le, callsign, endpoint, remarks, detail:
// [element names], chat: {chatroom, id, senderCallsign}, xml}],
// "encoded": [{ok, error, proto: base64}]}.
import fs from 'node:fs';
import { CoTParser } from '@tak-ps/node-cot';

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = { decoded: [], encoded: [] };
for (const b64 of input.decode || []) {
  try {
    const cot = await CoTParser.from_proto(Buffer.from(b64, 'base64'));
    const a = cot.raw.event._attributes;
    const p = cot.raw.event.point._attributes;
    const d = cot.raw.event.detail || {};
    const c = d.contact && d.contact._attributes || {};
    const chat = d.__chat && d.__chat._attributes || null;
    let remarks = '';
    if (d.remarks) remarks = d.remarks._text === undefined ? '' : String(d.remarks._text);
    out.decoded.push({
      ok: true, uid: a.uid, type: a.type, how: a.how, time: a.time, start: a.start, stale: a.stale,
      lat: Number(p.lat), lon: Number(p.lon), hae: Number(p.hae), ce: Number(p.ce), le: Number(p.le),
      callsign: c.callsign || '', endpoint: c.endpoint || '', remarks,
      detail: Object.keys(d).filter((k) => k !== '_flow-tags_').sort(), chat,
      xml: CoTParser.to_xml(cot),
    });
  } catch (err) {
    out.decoded.push({ ok: false, error: String(err && err.message || err) });
  }
}
for (const xml of input.encode || []) {
  try {
    const cot = CoTParser.from_xml(xml);
    delete cot.raw.event.detail['_flow-tags_'];
    const proto = await CoTParser.to_proto(cot);
    out.encoded.push({ ok: true, proto: Buffer.from(proto).toString('base64') });
  } catch (err) {
    out.encoded.push({ ok: false, error: String(err && err.message || err) });
  }
}
process.stdout.write(JSON.stringify(out));
