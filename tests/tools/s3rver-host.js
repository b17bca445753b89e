// Runs s3rver on 127.0.0.1 for the publish tests: node s3rver-host.js <port> <directory>
// Prints "ready <port>" when listening; exits when stdin closes (the test process ended or disposed it).
"use strict";
const S3rver = require("s3rver");
const [port, directory] = process.argv.slice(2);
const server = new S3rver({ address: "127.0.0.1", port: Number(port), silent: true, directory, resetOnClose: true });
let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  try { await server.close(); } finally { process.exit(0); }
}
server.run().then(
  (info) => { process.stdout.write(`ready ${info && info.port ? info.port : port}\n`); },
  (err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
process.stdin.on("end", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
process.on("SIGTERM", shutdown);
