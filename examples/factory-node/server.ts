/**
 * factory-node: a small HTTP image-classification service on one .lrm model.
 *
 *   npm run build
 *   node dist/examples/factory-node/server.js --model m.lrm --labels synset.txt --mean 0.5 --std 0.5 --port 8080
 *
 * POST /classify (a JPEG body, Content-Type: image/jpeg; optional X-Adapter: <name>) → { top, tier, adapter, ms };
 * GET /healthz. See README.md beside this file.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Admission } from './admission.js';
import { App } from './app.js';
import { openModel, tierIndex } from './model.js';
import { OptionError, parseOptions } from './options.js';
import { exitOnSignals } from './shutdown.js';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const model = await openModel(options);
  const admission = new Admission(options.concurrency, options.queue);
  const app = new App({ model, modelName: options.model, admission, maxBodyBytes: options.maxBodyBytes, log });
  const server = createServer(app.handle);
  // A client that sends headers or a body this slowly holds a place in the queue: cut it off.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  exitOnSignals(server, app, model, log);
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const { session } = model;
  const mib = (session.bytesLoaded / 2 ** 20).toFixed(2);
  log(
    `factory-node listening on http://${host}:${port} model=${options.model} engine=${session.engine} ` +
      `tier=${tierIndex(session)} of 0..${session.header.tiers.length - 1} (${model.why}) loaded=${mib}MiB ` +
      `adapters=${model.adapters.join(',') || '-'} concurrency=${options.concurrency} queue=${options.queue}`,
  );
}

main().catch((e: unknown) => {
  console.error(`factory-node: ${(e as Error).message ?? String(e)}`);
  process.exit(e instanceof OptionError ? 2 : 1);
});
