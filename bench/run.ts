/** `npm run bench` (= `npm run build && node dist/bench/run.js`): the compression benchmark. Options: see cli.ts. */
import { main } from './cli.js';

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.LOWRANK_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
