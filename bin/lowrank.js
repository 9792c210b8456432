#!/usr/bin/env node
// The workstation CLI. `npm run build` compiles the TypeScript into dist/ first.
import('../dist/compiler/cli/main.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/compiler/cli/main.js')) {
    console.error('lowrank: error: the CLI is not built yet; run `npm run build` in the lowrank-edge folder');
  } else {
    console.error(`lowrank: error: ${e && e.message ? e.message : e}`);
  }
  process.exit(1);
});
