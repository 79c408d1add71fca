// Reports ground truth to a TAK streaming port with @tak-ps/node-tak and
// events built by @tak-ps/node-cot (independent of Atalaya), with a client
// certificate.
// argv: url (ssl://host:port), cert.pem, key.pem, markerSite, elementSite.
// Sends, once the server answered node-tak's ping: the marker of
// markerSite sent back with "#confirmed-lab" in its remarks, and a note
// linked to elementSite carrying <atalaya_ground_truth outcome="nothing-found">.
// stdout: after the server answered a ping sent after both, one JSON line
// {"chats": [{uid, type, chatroom, id, sender, to, remarks}], "errors": []}:
// the GeoChat messages (Atalaya's acknowledgements) node-tak received and
// parsed with node-cot, and events node-cot refused.
import fs from 'node:fs';
import TAK from '@tak-ps/node-tak';
import CoT from '@tak-ps/node-cot';

const [url, certPath, keyPath, markerSite, elementSite] = process.argv.slice(2);
const tak = await TAK.connect('atalaya-test', new URL(url), {
  cert: fs.readFileSync(certPath, 'utf8'),
  key: fs.readFileSync(keyPath, 'utf8'),
});

let state = 'connecting';
const chats = [];
const errors = [];
const consoleError = console.error;
console.error = (...args) => {
  if (String(args[0]).startsWith('Error parsing')) errors.push(args.map(String).join(' '));
  consoleError(...args);
};
tak.on('cot', (cot) => {
  const a = cot.raw.event._attributes;
  if (a.type !== 'b-t-f') return;
  const d = cot.raw.event.detail || {};
  const c = d.__chat && d.__chat._attributes || {};
  const r = d.remarks || {};
  chats.push({ uid: a.uid, type: a.type, chatroom: c.chatroom, id: c.id, sender: c.senderCallsign,
    to: r._attributes && r._attributes.to, remarks: r._text });
});
tak.on('ping', () => {
  if (state === 'connecting') {
    state = 'sending';
    const marker = CoT.from_geojson({
      type: 'Feature', id: `atalaya-site-${markerSite}`,
      properties: { type: 'b-m-p-s-m', how: 'h-e', callsign: 'Possible lab', remarks: '#confirmed-lab reported with node-tak' },
      geometry: { type: 'Point', coordinates: [-74.08175, 4.60971] },
    });
    const note = CoT.from_geojson({
      type: 'Feature', id: 'node-tak-note-1',
      properties: { type: 'b-m-p-s-m', how: 'h-g-i-g-o', callsign: 'Note', remarks: 'checked with node-tak',
        links: [{ uid: `atalaya-site-${elementSite}`, type: 'b-m-p-s-m', relation: 'p-p' }] },
      geometry: { type: 'Point', coordinates: [-74.08175, 4.60971] },
    });
    note.raw.event.detail.atalaya_ground_truth = { _attributes: { outcome: 'nothing-found', visited_at: '2026-11-20T08:30:00Z' } };
    tak.write([marker, note, CoT.ping()]);
  } else if (state === 'sending') {
    state = 'done';
    process.stdout.write(JSON.stringify({ chats, errors }) + '\n');
    tak.destroy();
    process.exit(0);
  }
});
tak.on('error', (err) => { process.stderr.write(String(err && err.message || err) + '\n'); process.exit(1); });
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); }, 60000);
