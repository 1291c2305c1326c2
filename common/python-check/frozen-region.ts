/**
 * Frozen regions: the lines from a start pattern (e.g. the evaluation call) to
 * an end pattern or the end of the file must be byte-identical before and after
 * a patch. Compared on text, not on the diff, so a copy of the start line placed
 * earlier, a moved line or lines appended after the end are all caught.
 */
import type { FrozenRegion, Violation } from './rules.js';

function firstMatch(lines: readonly string[], re: RegExp, from = 0): number {
  for (let i = from; i < lines.length; i++) if (re.test(lines[i]!)) return i;
  return -1;
}

/**
 * The first difference a patch makes inside a frozen region, or undefined.
 * A parent without the region's start line has nothing frozen in that file.
 */
export function checkFrozenRegion(
  region: FrozenRegion,
  before: string,
  after: string | undefined,
): Violation | undefined {
  const start = new RegExp(region.from);
  const old = before.split('\n');
  const s = firstMatch(old, start);
  if (s < 0) return undefined;
  let e = old.length - 1;
  if (region.to !== undefined) {
    const found = firstMatch(old, new RegExp(region.to), s);
    if (found >= 0) e = found;
  }
  const frozen = old.slice(s, e + 1);
  const toEnd = region.to === undefined || e === old.length - 1;
  const at = (line: number, message: string): Violation => ({
    rule: 'frozen-region',
    file: region.file,
    line,
    message: `${message} (frozen from /${region.from}/ to ${region.to === undefined ? 'the end of the file' : `/${region.to}/`}, line ${s + 1} of the parent)`,
  });
  if (after === undefined) return at(0, 'the patch deletes a file with a frozen region');
  const now = after.split('\n');
  const s2 = firstMatch(now, start);
  if (s2 < 0) return at(0, 'the frozen region is gone: no line matches its start');
  for (let k = 0; k < frozen.length; k++) {
    if (now[s2 + k] === frozen[k]) continue;
    const what = s2 + k >= now.length ? 'lines removed from' : 'a line added, removed or changed in';
    return at(Math.min(s2 + k, now.length - 1) + 1, what + ' the frozen region');
  }
  if (toEnd && now.length > s2 + frozen.length)
    return at(
      s2 + frozen.length + 1,
      'lines added after the frozen region, which runs to the end of the file',
    );
  return undefined;
}
