// Connects to a TAK streaming port with @tak-ps/node-tak (independent of
// Atalaya), with a client certificate, and reports what it received.
// argv: url (ssl://host:port), cert.pem, key.pem, wantUID (a uid to wait
// for after "ready"), timeoutMs.
// stdout: the line "ready" once the server answered node-tak's ping, then
// one JSON line {pong, events: [{uid, type, how, lat, lon, callsign}], errors,
// version: the server version node-tak read from the protocol offer}.
import fs from 'node:fs';
import TAK from '@tak-ps/node-tak';

const [url, certPath, keyPath, wantUID, timeoutMs] = process.argv.slice(2);
const events = [];
const errors = [];
let pong = false;
let done = false;

// node-tak reports events it cannot parse (node-cot refused them) with
// console.error('Error parsing', …): those are failures here.
const consoleError = console.error;
console.error = (...args) => {
  if (String(args[0]).startsWith('Error parsing')) errors.push(args.map(String).join(' '));
  consoleError(...args);
};

const tak = await TAK.connect('atalaya-test', new URL(url), {
  cert: fs.readFileSync(certPath, 'utf8'),
  key: fs.readFileSync(keyPath, 'utf8'),
});

function finish() {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify({ pong, events, errors, version: tak.version || '' }) + '\n');
  tak.destroy();
  process.exit(0);
}

tak.on('ping', () => {
  if (!pong) {
    pong = true;
    process.stdout.write('ready\n');
  }
});
tak.on('cot', (cot) => {
  const a = cot.raw.event._attributes;
  const p = cot.raw.event.point._attributes;
  const c = cot.raw.event.detail && cot.raw.event.detail.contact;
  events.push({
    uid: a.uid, type: a.type, how: a.how,
    lat: Number(p.lat), lon: Number(p.lon), ce: Number(p.ce),
    callsign: c && c._attributes ? c._attributes.callsign : '',
  });
  if (pong && a.uid === wantUID) finish();
});
tak.on('error', (err) => { errors.push(String(err && err.message || err)); });
tak.on('end', () => { errors.push('connection ended'); finish(); });
setTimeout(finish, Number(timeoutMs));
