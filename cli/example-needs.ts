/**
 * What a bundled example needs beyond the default setup, checked when
 * `arswarm up` or `arswarm demo` is about to run it. scripts/setup.sh installs
 * only what the landscape demo uses; the tinygpt example also needs torch for
 * /usr/bin/python3 (Debian's python3-torch), installed on first use through
 * `scripts/setup.sh --with torch`, which alone knows how each extra is checked
 * and which packages it takes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ArswarmError, Code } from '../common/errors.js';
import { packagePath } from '../common/package-root.js';

/** Extras of scripts/setup.sh (`--with NAME`). */
export type SetupExtra = 'torch' | 'browser';

/** Extras each bundled example needs; examples not listed need none. */
export const EXAMPLE_EXTRAS: Readonly<Record<string, readonly SetupExtra[]>> = {
  tinygpt: ['torch'],
};

const WHY: Record<SetupExtra, string> = {
  torch: 'torch for /usr/bin/python3 (Debian: python3-torch)',
  browser: 'chromium at /usr/bin/chromium',
};

/** The setup script, or undefined in an installation that has none (an image). */
export function setupScript(): string | undefined {
  const p = packagePath('scripts', 'setup.sh');
  return existsSync(p) ? p : undefined;
}

/** The extras of `names` that are not installed (asks `setup.sh --check`). */
export function missingExtras(names: readonly SetupExtra[], script = setupScript()): SetupExtra[] {
  if (!script) return [];
  return names.filter((n) => spawnSync('bash', [script, '--check', n], { stdio: 'ignore' }).status !== 0);
}

/**
 * Makes sure `example` can run: installs the extras it needs when they are
 * missing (apt-get through setup.sh, as root or with sudo), saying so first;
 * when that fails, stops with the command to run.
 */
export function ensureExampleNeeds(example: string, say: (m: string) => void, script = setupScript()): void {
  const missing = missingExtras(EXAMPLE_EXTRAS[example] ?? [], script);
  if (!missing.length || !script) return;
  const list = missing.join(',');
  const command = `npm run setup -- --with ${list}`;
  say(
    `the ${example} example needs ${missing.map((m) => WHY[m]).join(' and ')}, which is missing: installing it now (${command})`,
  );
  const r = spawnSync('bash', [script, '--with', list], { stdio: ['inherit', 2, 2] });
  if (r.status === 0 && missingExtras(missing, script).length === 0) return;
  throw new ArswarmError(
    Code.FailedPrecondition,
    `the ${example} example needs ${missing.map((m) => WHY[m]).join(' and ')}`,
    {
      hint: `install it with \`${command}\` (as root or with sudo), then run this again`,
    },
  );
}
