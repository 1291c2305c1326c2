#!/usr/bin/env node
// Compiles the CLI, coordinator and worker into dist/ (tsconfig.build.json)
// so `arswarm` starts without compiling TypeScript at run time.
//   node scripts/build.js [--if-stale] [--quiet]
// --if-stale does nothing when dist/ is current (what scripts/setup.sh runs).
// Type errors do not stop the build (`npm run typecheck` reports them); the
// stamp records when the build began, so a source edited during the build
// leaves dist/ stale. One build at a time: others wait for it, then re-check.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT, SOURCE_DIRS, distDir, distIsCurrent, stampFile } from '../bin/compiled.js';

const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const quiet = args.includes('--quiet');
const say = (m) => quiet || console.error(`build: ${m}`);

/** A build that has held the lock this long died without releasing it. */
const STALE_LOCK_MS = 10 * 60_000;
const lock = join(ROOT, '.build.lock');

/** Whether the process that took the lock is gone (killed mid-build), so the lock can go at once. */
function holderGone() {
  let pid;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    return false; // taken a moment ago, pid not written yet
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err.code === 'ESRCH';
  }
}

function acquire() {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let age;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released just now
    }
    if (age > STALE_LOCK_MS || holderGone()) rmSync(lock, { recursive: true, force: true });
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
}

/** Copies the Python programs beside the sources (e.g. common/python-check/checker.py) into dist/. */
function copyPython(dir, rel = '') {
  let entries;
  try {
    entries = readdirSync(join(dir, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = join(rel, e.name);
    if (e.isDirectory()) copyPython(dir, r);
    else if (e.name.endsWith('.py')) {
      mkdirSync(join(distDir(), dir.slice(ROOT.length + 1), rel), { recursive: true });
      copyFileSync(join(dir, r), join(distDir(), dir.slice(ROOT.length + 1), r));
    }
  }
}

/** Runs tsc and stamps the output; returns the exit status for this script. */
function build() {
  // Another build may have finished while this one waited.
  if (ifStale && distIsCurrent()) return 0;
  const began = new Date();
  say('compiling TypeScript into dist/ (tsc -p tsconfig.build.json)');
  rmSync(stampFile(), { force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--pretty', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  // Exit status 2 is "errors, outputs generated"; anything else means no complete output.
  if (r.status !== 0 && r.status !== 2) {
    process.stderr.write(r.stdout + r.stderr);
    console.error(`build: tsc failed (exit ${r.status ?? r.signal})`);
    return 1;
  }
  if (r.status === 2) {
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    console.error(
      `build: emitted with ${errors.length} type errors (npm run typecheck lists them); first: ${errors[0]}`,
    );
  }
  mkdirSync(distDir(), { recursive: true });
  for (const d of SOURCE_DIRS) copyPython(join(ROOT, d));
  writeFileSync(stampFile(), `${began.toISOString()}\n`);
  utimesSync(stampFile(), began, began);
  say(`done in ${((Date.now() - began.getTime()) / 1000).toFixed(1)} s`);
  return 0;
}

if (ifStale && distIsCurrent()) process.exit(0);
acquire();
let status;
try {
  status = build();
} finally {
  rmSync(lock, { recursive: true, force: true });
}
process.exit(status);
