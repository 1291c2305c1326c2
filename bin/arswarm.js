#!/usr/bin/env node
// The `arswarm` command: runs the compiled CLI (dist/, built by
// scripts/build.js) when it is current, else the TypeScript sources through
// tsx, which is slower to start but never stale. ARSWARM_FROM_SOURCE=1 always
// runs the sources.
import { pathToFileURL } from 'node:url';
import { compiledMain, distIsCurrent } from './compiled.js';

if (process.env.ARSWARM_FROM_SOURCE !== '1' && distIsCurrent()) {
  await import(pathToFileURL(compiledMain()).href);
} else {
  if (process.env.ARSWARM_FROM_SOURCE !== '1' && process.stderr.isTTY)
    console.error(
      'arswarm: dist/ is missing or older than the sources, running them through tsx (`npm run build` makes it start fast)',
    );
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
