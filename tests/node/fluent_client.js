// Sends events to a Fluent forward server with fluent-logger for Node.js,
// a real client with acks, PackedForward, CompressedPackedForward (gzip),
// the shared-key handshake and TLS. Reads a JSON spec from argv[2]:
//   {tag, port | path, mode, ack, ackTimeoutMs, sharedKey, clientHostname, ca,
//    events: [{label, record, sec, nsec}]}
// and prints {"acked": n, "errors": [...]} once every event's callback ran.
'use strict';
const fs = require('fs');
const FluentLogger = require('fluent-logger');

const spec = JSON.parse(process.argv[2]);
const options = {
  host: '127.0.0.1',
  port: spec.port,
  path: spec.path,
  timeout: 10000,
  eventMode: spec.mode || 'Message',
  requireAckResponse: !!spec.ack,
  ackResponseTimeout: spec.ackTimeoutMs || 10000,
  enableReconnect: false,
  internalLogger: { info: () => {}, error: (...a) => console.error(...a) },
};
if (spec.sharedKey) {
  options.security = { clientHostname: spec.clientHostname || 'node.client', sharedKey: spec.sharedKey, username: '', password: '' };
}
if (spec.ca) {
  options.tls = true;
  options.tlsOptions = { ca: fs.readFileSync(spec.ca), servername: 'localhost' };
}
const sender = FluentLogger.createFluentSender(spec.tag, options);
sender.on('error', (e) => console.error('sender error:', e && e.message));

let pending = spec.events.length;
let acked = 0;
const errors = [];
const done = () => {
  console.log(JSON.stringify({ acked, errors }));
  sender.end();
  setTimeout(() => process.exit(0), 100);
};
for (const ev of spec.events) {
  const time = new FluentLogger.EventTime(ev.sec, ev.nsec);
  sender.emit(ev.label, ev.record, time, (err) => {
    if (err) errors.push(String(err.message || err));
    else acked += 1;
    if (--pending === 0) done();
  });
}
setTimeout(() => {
  errors.push(`timed out with ${pending} events unanswered`);
  done();
}, (spec.ackTimeoutMs || 10000) + 5000);
