// An independent OPC UA server for Linewatch's integration tests (node-opcua).
//
// Serves, in namespace "urn:linewatch:test:node-opcua", under Objects/Peer:
//   v0000 .. vNNNN  Double: on tick k every variable is set to k (so a reader can tell whether
//                   any value went missing: each variable must read 0, 1, 2, ... without gaps)
//   lot             String "LOT-<k div 10>", written before the values with the same timestamp
//   quality         Double k, with status Good, Uncertain, Bad for k mod 3 = 0, 1, 2
// Values are set with setValueFromSource (source timestamp = tick time); the variables have
// minimumSamplingInterval 0, so monitored items with sampling interval 0 report every change.
//
// usage: node opcua_server.js --port 4841 [--count 10] [--hz 10] [--ticks 0 (forever)]
// prints "READY <port>" on stdout once it listens; exits on SIGTERM/SIGINT.
"use strict";

const os = require("os");
const path = require("path");
const fs = require("fs");
const {
  OPCUAServer,
  OPCUACertificateManager,
  Variant,
  DataType,
  StatusCodes,
  SecurityPolicy,
  MessageSecurityMode,
} = require("node-opcua");

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const port = parseInt(arg("port", "4841"), 10);
const count = parseInt(arg("count", "10"), 10);
const hz = parseFloat(arg("hz", "10"));
const maxTicks = parseInt(arg("ticks", "0"), 10);
const NS = "urn:linewatch:test:node-opcua";

async function main() {
  const pki = fs.mkdtempSync(path.join(os.tmpdir(), "lw-node-opcua-pki-"));
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: pki,
    automaticallyAcceptUnknownCertificate: true,
  });
  const server = new OPCUAServer({
    port,
    resourcePath: "",
    serverCertificateManager,
    securityPolicies: [SecurityPolicy.None],
    securityModes: [MessageSecurityMode.None],
    allowAnonymous: true,
    buildInfo: { productName: "linewatch-test-peer", buildNumber: "1" },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace(NS);
  const folder = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Peer", nodeId: "s=Peer" });

  const lot = ns.addVariable({
    componentOf: folder,
    browseName: "lot",
    nodeId: "s=lot",
    dataType: "String",
    minimumSamplingInterval: 0,
  });
  const quality = ns.addVariable({
    componentOf: folder,
    browseName: "quality",
    nodeId: "s=quality",
    dataType: "Double",
    minimumSamplingInterval: 0,
  });
  const variables = [];
  for (let i = 0; i < count; i++) {
    const name = `v${String(i).padStart(4, "0")}`;
    variables.push(
      ns.addVariable({ componentOf: folder, browseName: name, nodeId: `s=${name}`, dataType: "Double", minimumSamplingInterval: 0 })
    );
  }
  const statuses = [StatusCodes.Good, StatusCodes.UncertainLastUsableValue, StatusCodes.BadSensorFailure];

  await server.start();
  process.stdout.write(`READY ${port}\n`);

  let k = 0;
  const timer = setInterval(() => {
    if (maxTicks > 0 && k >= maxTicks) return;
    const now = new Date();
    lot.setValueFromSource(new Variant({ dataType: DataType.String, value: `LOT-${Math.floor(k / 10)}` }), StatusCodes.Good, now);
    quality.setValueFromSource(new Variant({ dataType: DataType.Double, value: k }), statuses[k % 3], now);
    for (const v of variables) {
      v.setValueFromSource(new Variant({ dataType: DataType.Double, value: k }), StatusCodes.Good, now);
    }
    k += 1;
  }, 1000 / hz);

  const shutdown = async () => {
    clearInterval(timer);
    await server.shutdown(0);
    fs.rmSync(pki, { recursive: true, force: true });
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main().catch((err) => {
  process.stderr.write(`opcua_server.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
