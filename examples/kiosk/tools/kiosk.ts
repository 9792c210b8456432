/**
 * `npm run kiosk`: compiles the models if needed (MobileNet, and USE-lite for the search panel), builds the site
 * into dist/examples/kiosk/site/ and serves it on 127.0.0.1 (--port N, default 8080; --no-isolation serves it
 * without COOP/COEP, to see the one-thread notice).
 */
import { buildSite } from './build-site.js';
import { ensureKioskModel, ensureSearchModel } from './compile-model.js';
import { startKioskServer } from './kiosk-server.js';
import { kioskPaths } from './paths.js';

const args = process.argv.slice(2);
const portAt = args.indexOf('--port');
const port = portAt >= 0 ? Number(args[portAt + 1]) : 8080;
const paths = kioskPaths();
const site = await buildSite(paths, ensureKioskModel(paths), { lrm: ensureSearchModel(paths) });
const server = await startKioskServer(site.dir, { port, isolated: !args.includes('--no-isolation') });
console.log(`kiosk built in ${site.dir}`);
console.log(`model ${site.model} (${site.integrity})`);
console.log(`serving on ${server.url}  (try ${server.url}?image=samples/dog.jpg)`);
