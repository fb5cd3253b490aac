// A Sparkplug B edge node for Linewatch's integration tests, built on Eclipse Tahu's
// npm `sparkplug-client` (an independent implementation of the protocol).
//
// Publishes, once connected: NBIRTH (node metric "Temp" alias 1 + bdSeq), DBIRTH for device
// <device> (metrics "Bore" Double alias 2, "Count" Int32 alias 3, "Label" String alias 4), then
// <count> DDATA messages i = 0..count-1, each with alias 2 = 74 + i/1000 and alias 3 = i - 5,
// and metric timestamps base + i ms. Answers NCMD "Node Control/Rebirth" with NBIRTH + DBIRTH.
//
// usage: node sparkplug_edge.js --url mqtt://127.0.0.1:1883 --group G --node N --device D
//        [--count 50] [--interval 2] [--gap-at -1] [--base 1795000000000] [--wait-rebirth 0]
//   --gap-at k: skip one sequence number before DDATA k (as if a message were lost)
//   --wait-rebirth s: after the last DDATA, wait up to s seconds for a rebirth request
// prints "BIRTH", "SENT <n>", "REBIRTH" lines on stdout; exits 0 when done.
"use strict";

const sparkplug = require("sparkplug-client");

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const url = arg("url", "mqtt://127.0.0.1:1883");
const group = arg("group", "G");
const node = arg("node", "N");
const device = arg("device", "D");
const count = parseInt(arg("count", "50"), 10);
const interval = parseInt(arg("interval", "2"), 10);
const gapAt = parseInt(arg("gap-at", "-1"), 10);
const base = parseInt(arg("base", "1795000000000"), 10);
const waitRebirth = parseFloat(arg("wait-rebirth", "0"));

const client = sparkplug.newClient({
  serverUrl: url,
  username: "",
  password: "",
  groupId: group,
  edgeNode: node,
  clientId: `tahu-${group}-${node}-${process.pid}`,
  version: "spBv1.0",
  publishDeath: true,
});

let rebirths = 0;
let started = false;

function births() {
  client.publishNodeBirth({
    timestamp: Date.now(),
    metrics: [{ name: "Temp", alias: 1, type: "Double", value: 21.5 }],
  });
  client.publishDeviceBirth(device, {
    timestamp: Date.now(),
    metrics: [
      { name: "Bore", alias: 2, type: "Double", value: 74.0 },
      { name: "Count", alias: 3, type: "Int32", value: 0 },
      { name: "Label", alias: 4, type: "String", value: "x" },
    ],
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function run() {
  births();
  console.log("BIRTH");
  for (let i = 0; i < count; i++) {
    if (i === gapAt) {
      client.seq = (client.seq + 1) % 256; // one lost message
    }
    client.publishDeviceData(device, {
      timestamp: base + i,
      metrics: [
        { alias: 2, type: "Double", value: 74 + i / 1000, timestamp: base + i },
        { alias: 3, type: "Int32", value: i - 5, timestamp: base + i },
      ],
    });
    if (interval > 0) await sleep(interval);
  }
  console.log(`SENT ${count}`);
  const deadline = Date.now() + waitRebirth * 1000;
  while (rebirths === 0 && Date.now() < deadline) await sleep(20);
  await sleep(200);
  client.stop();
  setTimeout(() => process.exit(0), 300);
}

client.on("ncmd", (payload) => {
  for (const metric of payload.metrics || []) {
    if (metric.name === "Node Control/Rebirth" && metric.value) {
      rebirths += 1;
      births();
      console.log("REBIRTH");
    }
  }
});

client.on("birth", () => {
  if (started) {
    births();
    return;
  }
  started = true;
  // let the subscriber settle before the data starts
  setTimeout(() => run().catch((e) => { console.error(e); process.exit(1); }), 300);
});

client.on("error", (e) => {
  console.error(`ERROR ${e}`);
  process.exit(1);
});
