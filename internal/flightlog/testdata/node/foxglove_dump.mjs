// Dumps a ULog file as read by @foxglove/ulog (an independent reader, MIT,
// github.com/foxglove/ulog) for internal/flightlog's tests.
//
//   node foxglove_dump.mjs FILE [TOPIC,TOPIC,...]
//
// Prints one JSON object: header, info, data message counts per topic
// instance ("name/multi_id"), and every message of the listed topics (all
// of them if "*") with its fields flattened in pyulog's naming ("q[0]",
// "nested.x"). 64-bit integers are decimal strings, non-finite floats the
// strings "NaN", "Infinity", "-Infinity", negative zero "-0", booleans 0/1; char arrays are
// strings. Messages come in @foxglove/ulog's order: by timestamp, then file
// offset. Like @foxglove/ulog, it reads only up to the first appended-data
// offset.
import { ULog, MessageType } from "@foxglove/ulog";
import { FileReader } from "@foxglove/ulog/node.js";

const [file, topicArg = "vehicle_global_position,vehicle_gps_position,sensor_gps"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node foxglove_dump.mjs FILE [TOPIC,...|*]");
  process.exit(2);
}
const wanted = new Set(topicArg.split(","));

function scalar(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (Object.is(v, -0)) return "-0"; // JSON.stringify(-0) is "0"
  return v;
}

function flatten(prefix, v, out) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => flatten(`${prefix}[${i}]`, x, out));
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else {
    out[prefix] = scalar(v);
  }
}

const reader = new FileReader(file);
const ulog = new ULog(reader);
await ulog.open();
const h = ulog.header;
const out = {
  version: h.version,
  timestamp: h.timestamp.toString(),
  info: {},
  counts: {},
  logs: ulog.logCount(),
  topics: {},
};
for (const [k, v] of h.information) {
  if (!Array.isArray(v)) out.info[k] = scalar(v);
}
const key = (id) => {
  const s = ulog.subscriptions.get(id);
  return `${s.name}/${s.multiId}`;
};
for (const [id, n] of ulog.dataMessageCounts()) {
  out.counts[key(id)] = (out.counts[key(id)] ?? 0) + n;
}
for await (const msg of ulog.readMessages({ includeLogs: false })) {
  if (msg.type !== MessageType.Data) continue;
  const s = ulog.subscriptions.get(msg.msgId);
  if (!wanted.has("*") && !wanted.has(s.name)) continue;
  const k = key(msg.msgId);
  const t = (out.topics[k] ??= { timestamps: [], fields: {} });
  const flat = {};
  flatten("", msg.value, flat);
  const n = t.timestamps.length;
  t.timestamps.push(msg.value.timestamp.toString());
  for (const [f, v] of Object.entries(flat)) {
    (t.fields[f] ??= new Array(n).fill(null)).push(v);
  }
}
await reader.close();
process.stdout.write(JSON.stringify(out));
