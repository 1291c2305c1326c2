/**
 * Rules the audit applies to a candidate's final diff before it may merge:
 * patterns that a real improvement of a training script has no need for and
 * that a metric-gaming edit does (mutating what the locked evaluation
 * returns, rebinding or monkeypatching names from locked modules, hijacking
 * the output, touching the seed, the environment, the file system or
 * /proc). They read the added lines with the patched file for context.
 *
 * These are text rules over Python, deliberately broad: they run only on a
 * candidate that already passed the top stage, and a hit sends it to a
 * person, not to the bin. The rule ids match those of the semantic checker
 * at intake, so a finding reads the same wherever it was made.
 */
import { checkPatch, type FileDiff, type PatchRules } from '../../common/diff/index.js';

/** One reason to send a candidate to review. */
export interface RuleFinding {
  rule: string;
  reasons: string[];
}

export interface DiffRulesInput {
  diff: string;
  /** Editable files after the patch, by path (for imports and the evaluation call). */
  patched: ReadonlyMap<string, string>;
  /** Python module names of the locked files (`prepare` for prepare.py). */
  lockedModules: readonly string[];
  rules: PatchRules;
}

/** An added line with its number in the patched file. */
interface Added {
  path: string;
  line: number;
  text: string;
}

const ASSIGN = String.raw`\s*(?:[-+*/%@&|^]|\*\*|//|<<|>>)?=(?!=)`;
const STDLIB_MODULES = ['sys', 'os', 'time', 'builtins', 'math', 'random', 'io', 'atexit', 'signal'];

/** Python module name of a locked `.py` path (`pkg/prepare.py` -> `prepare`). */
export function moduleOf(path: string): string | undefined {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\.py$/.exec(path);
  return m?.[1];
}

function addedLines(sections: readonly FileDiff[]): Added[] {
  const out: Added[] = [];
  for (const s of sections) {
    if (!s.path.endsWith('.py')) continue;
    for (const h of s.hunks) {
      let n = h.newStart;
      for (const l of h.lines) {
        if (l.tag === '+') out.push({ path: s.path, line: n, text: l.text });
        if (l.tag !== '-') n++;
      }
    }
  }
  return out;
}

/** Names a file imports from the locked modules (`from prepare import a, b as c`), and module aliases. */
export function lockedImports(
  text: string,
  modules: readonly string[],
): { names: Set<string>; aliases: Set<string> } {
  const names = new Set<string>();
  const aliases = new Set<string>(modules);
  const flat = text.replace(/\(\s*([^)]*)\)/gs, (_, inner: string) => inner.replace(/\s*\n\s*/g, ' '));
  for (const line of flat.split('\n')) {
    const from = /^\s*from\s+([A-Za-z_][\w.]*)\s+import\s+(.+)$/.exec(line);
    if (from && modules.includes(from[1]!.split('.').at(-1)!))
      for (const part of from[2]!.split(',')) {
        const m = /^\s*(\w+)(?:\s+as\s+(\w+))?\s*$/.exec(part.replace(/#.*/, ''));
        if (m) names.add(m[2] ?? m[1]!);
      }
    const imp = /^\s*import\s+(.+)$/.exec(line);
    if (imp)
      for (const part of imp[1]!.split(',')) {
        const m = /^\s*([\w.]+)(?:\s+as\s+(\w+))?\s*$/.exec(part.replace(/#.*/, ''));
        if (m && modules.includes(m[1]!.split('.').at(-1)!)) aliases.add(m[2] ?? m[1]!);
      }
  }
  return { names, aliases };
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The evaluation call in a patched file: its line and the variable it binds. */
function evaluationCall(
  text: string,
  names: ReadonlySet<string>,
  aliases: ReadonlySet<string>,
): { line: number; target?: string } | undefined {
  const evalNames = [...names].filter((n) => /eval/i.test(n)).map(esc);
  const callees = [...evalNames, ...[...aliases].map((a) => `${esc(a)}\\.\\w*eval\\w*`)];
  if (!callees.length) return undefined;
  const call = new RegExp(`\\b(?:${callees.join('|')})\\s*\\(`);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*(def|class|from|import)\b/.test(l) || !call.test(l)) continue;
    const bind = /^\s*([A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)/.exec(l);
    return { line: i + 1, target: bind?.[1] };
  }
  return undefined;
}

type Check = { rule: string; test: (a: Added) => string | undefined };

function checksFor(
  names: ReadonlySet<string>,
  aliases: ReadonlySet<string>,
  evaluation: { line: number; target?: string } | undefined,
): Check[] {
  const mods = [...aliases].map(esc).join('|');
  const lockedNames = [...names].map(esc).join('|');
  const stdlib = STDLIB_MODULES.join('|');
  // Validation data by name (`val_batches`, `prepare.load_val`), not the evaluation itself.
  const callees = [...[...names].map(esc), ...[...aliases].map((a) => `${esc(a)}\\s*\\.\\s*\\w+`)];
  const valRefs = [
    ...[...names].filter((n) => /val/i.test(n) && !/eval/i.test(n)).map(esc),
    ...[...aliases].map((a) => `${esc(a)}\\s*\\.\\s*(?!\\w*eval)\\w*val\\w*`),
  ];
  const re = (s: string, flags = '') => new RegExp(s, flags);
  const hit = (r: RegExp | undefined, why: string) => (a: Added) =>
    r && r.test(a.text.replace(/#.*$/, '')) ? why : undefined;
  const checks: Check[] = [
    {
      rule: 'locked-module-mutation',
      test: hit(
        mods
          ? re(
              `\\b(?:${mods})\\s*\\.\\s*\\w+(?:\\s*\\.\\s*\\w+)*${ASSIGN}|\\b(?:setattr|delattr)\\s*\\(\\s*(?:${mods})\\b|\\b(?:${mods})\\s*\\.\\s*__dict__|\\bvars\\s*\\(\\s*(?:${mods})\\s*\\)|\\bsys\\s*\\.\\s*modules\\b|\\bimportlib\\b`,
            )
          : /\bsys\s*\.\s*modules\b|\bimportlib\b/,
        'changes a locked module or the module table at run time',
      ),
    },
    {
      rule: 'locked-name-assign',
      test: hit(
        lockedNames
          ? re(
              `(?:^|[;,(]|\\bglobal\\s|\\bdef\\s)\\s*(?:${lockedNames})\\b(?:${ASSIGN}|\\s*\\(.*\\)\\s*:|\\s*,)|^\\s*global\\s+.*\\b(?:${lockedNames})\\b`,
            )
          : undefined,
        'rebinds a name imported from a locked file',
      ),
    },
    {
      rule: 'stdlib-mutation',
      test: hit(
        re(
          `\\b(?:${stdlib})\\s*\\.\\s*\\w+${ASSIGN}|\\b(?:setattr)\\s*\\(\\s*(?:${stdlib})\\b|\\b__builtins__\\b`,
        ),
        'monkeypatches a standard module (time, print, stdout, ...)',
      ),
    },
    {
      rule: 'output-hijack',
      test: hit(
        /\batexit\b|\bsys\s*\.\s*(?:stdout|__stdout__|stderr)\b|\bos\s*\.\s*(?:dup2?|write)\s*\(|\bredirect_stdout\b|^\s*(?:print\s*=|def\s+print\s*\()|\bbuiltins\b|['"]---['"]/,
        'writes or redirects the output outside the report block',
      ),
    },
    {
      rule: 'env-tamper',
      test: hit(
        /\bos\s*\.\s*(?:environ\s*(?:\[[^\]]*\]\s*=(?!=)|\.\s*(?:update|setdefault|pop|clear)\b)|putenv|unsetenv)/,
        'changes the environment the locked code reads',
      ),
    },
    {
      rule: 'file-write',
      test: hit(
        /\bopen\s*\([^)]*['"][^'"]*[wax+][^'"]*['"]|\.write_(?:text|bytes)\s*\(|\bos\s*\.\s*(?:remove|unlink|rename|replace|symlink|link|chmod|makedirs|mkdir)\b|\bshutil\b|\.\.\/|\bsubprocess\b|\bos\s*\.\s*system\b/,
        'writes to the file system or starts processes at run time',
      ),
    },
    {
      rule: 'proc-access',
      test: hit(/\/proc\b|\/sys\/|\bpsutil\b/, 'reads other processes or the host'),
    },
    {
      rule: 'validation-data-use',
      test: hit(
        valRefs.length ? re(`\\b(?:${valRefs.join('|')})\\b`) : undefined,
        'uses the locked validation data outside the evaluation call',
      ),
    },
    {
      rule: 'validation-data-use',
      // A locked loader asked for the held-out split (`make_loader("val", ...)`).
      test: hit(
        callees.length
          ? re(`\\b(?:${callees.join('|')})\\s*\\([^)]*['"](?:val|valid|validation|test|eval)['"]`)
          : undefined,
        'asks a locked loader for the validation split',
      ),
    },
  ];
  if (evaluation) {
    checks.push({
      rule: 'frozen-region',
      test: (a) =>
        a.line >= evaluation.line
          ? `changes line ${a.line}, at or after the evaluation call (line ${evaluation.line})`
          : undefined,
    });
    const t = evaluation.target;
    if (t)
      checks.push({
        rule: 'eval-result-mutation',
        test: hit(
          re(
            `(?:^|[;,(])\\s*${esc(t)}\\s*(?:\\[[^\\]]*\\]|\\.\\s*\\w+)?${ASSIGN}|\\b${esc(t)}\\s*\\.\\s*(?:update|pop|setdefault|clear|__setitem__)\\s*\\(`,
          ),
          `changes ${t}, the evaluation's result`,
        ),
      });
  }
  return checks;
}

/** How a line sets or passes a seed: `SEED = ...`, `"seed": ...`, `manual_seed(...)`, `random.seed(...)`. */
const SEED_USE =
  /\b\w*seed\w*["']?\s*(?:[:=](?!=)\s*[^,}\n#]+)|\b\w*seed\w*\s*\([^)\n]*\)|\bSEED\b[^,)\n]*(?=[,)])/gi;

/**
 * Seed handling that differs between removed and added lines: replicates
 * must differ only by the seed the ladder gives, so a patch that pins,
 * shifts or drops it is only moving noise (the seed 42 -> 137 "win").
 * Lines that merely carry the seed along unchanged are not counted.
 */
function seedChanges(sections: readonly FileDiff[]): string[] {
  const out: string[] = [];
  for (const s of sections) {
    if (!s.path.endsWith('.py')) continue;
    for (const h of s.hunks) {
      const uses = (tag: '+' | '-') =>
        h.lines
          .filter((l) => l.tag === tag)
          .flatMap((l) =>
            [...l.text.replace(/#.*$/, '').matchAll(SEED_USE)].map((m) => m[0].replace(/\s+/g, '')),
          )
          .sort();
      const added = uses('+');
      const removed = uses('-');
      if (added.join('\n') !== removed.join('\n'))
        out.push(
          `${s.path}:${h.newStart}: changes the seed: ${removed.join(' ') || '(none)'} -> ${added.join(' ') || '(none)'}`,
        );
    }
  }
  return out.slice(0, 5);
}

/** Every rule the final diff breaks, one finding per rule with the offending lines. */
export function diffFindings(o: DiffRulesInput): RuleFinding[] {
  let sections: FileDiff[];
  try {
    sections = checkPatch(o.diff, o.rules).sections;
  } catch (err) {
    return [{ rule: 'patch-rules', reasons: [(err as Error).message] }];
  }
  const byRule = new Map<string, string[]>();
  const seed = seedChanges(sections);
  if (seed.length) byRule.set('seed-tamper', seed);
  for (const s of sections) {
    const text = o.patched.get(s.path);
    if (text === undefined) continue;
    const { names, aliases } = lockedImports(text, o.lockedModules);
    const checks = checksFor(names, aliases, evaluationCall(text, names, aliases));
    for (const a of addedLines([s]))
      for (const c of checks) {
        const why = c.test(a);
        if (!why) continue;
        const list = byRule.get(c.rule) ?? [];
        if (list.length < 5) list.push(`${a.path}:${a.line}: ${why}: ${a.text.trim().slice(0, 160)}`);
        byRule.set(c.rule, list);
      }
  }
  return [...byRule].map(([rule, reasons]) => ({ rule, reasons }));
}
