/**
 * Test support: tests that need an extra of scripts/setup.sh (torch for the
 * tinygpt example, chromium for the dashboard) fail at once with the command
 * that installs it, rather than with a launch or import error. `npm test`
 * installs both; a single file run with `npx vitest run` may find them missing.
 */
import { missingExtras, type SetupExtra } from '../../cli/example-needs.js';

/** Throws, naming the install command, when an extra is not installed. */
export function requireExtras(...extras: SetupExtra[]): void {
  const missing = missingExtras(extras);
  if (missing.length)
    throw new Error(
      `this test needs ${missing.join(' and ')}, which is not installed: run \`npm run setup -- --with ${missing.join(',')}\``,
    );
}
