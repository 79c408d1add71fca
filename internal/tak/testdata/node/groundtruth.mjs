// Reports ground truth to a TAK streaming port with @tak-ps/node-tak and
// events built by @tak-ps/node-cot (independent of Atalaya), with a client
// certificate.
// argv: url (ssl://host:port), cert.pem, key.pem, markerSite, elementSite.
// Sends, once the server answered node-tak's ping: the marker of
// markerSite sent back with "#confirmed-lab" in its remarks, and a note
// linked to elementSite carrying <atalaya_ground_truth outcome="nothing-found">.
// stdout: "sent" after the server answered a ping sent after both.
import fs from 'node:fs';
import TAK from '@tak-ps/node-tak';
import CoT from '@tak-ps/node-cot';

const [url, certPath, keyPath, markerSite, elementSite] = process.argv.slice(2);
const tak = await TAK.connect('atalaya-test', new URL(url), {
  cert: fs.readFileSync(certPath, 'utf8'),
  key: fs.readFileSync(keyPath, 'utf8'),
});

let state = 'connecting';
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
    process.stdout.write('sent\n');
    tak.destroy();
    process.exit(0);
  }
});
tak.on('error', (err) => { process.stderr.write(String(err && err.message || err) + '\n'); process.exit(1); });
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); }, 60000);
