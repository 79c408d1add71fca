// Parses CoT events with @tak-ps/node-cot (independent of Atalaya) and
// prints, per event, what the reference saw: the validated event's uid,
// type and how, its GeoJSON feature, and the uid, type and position of the
// event node-cot makes back from that feature. Input: a JSON array of XML strings
// in the file named by argv[2]. Output: a JSON array on stdout.
import fs from 'node:fs';
import { CoTParser } from '@tak-ps/node-cot';

const events = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = [];
for (const xml of events) {
  try {
    const cot = CoTParser.from_xml(xml);
    const a = cot.raw.event._attributes;
    const feature = await CoTParser.to_geojson(cot);
    const detail = cot.raw.event.detail || {};
    // And back: GeoJSON to CoT again.
    const back = await CoTParser.from_geojson(feature);
    const ba = back.raw.event._attributes;
    const bp = back.raw.event.point._attributes;
    out.push({
      ok: true,
      uid: a.uid, type: a.type, how: a.how,
      forcedelete: Object.prototype.hasOwnProperty.call(detail, '__forcedelete'),
      group: Object.prototype.hasOwnProperty.call(detail, '__group'),
      feature,
      back: { uid: ba.uid, type: ba.type, lat: Number(bp.lat), lon: Number(bp.lon) },
    });
  } catch (err) {
    out.push({ ok: false, error: String(err && err.message || err) });
  }
}
process.stdout.write(JSON.stringify(out));
