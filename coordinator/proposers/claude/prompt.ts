/**
 * What the model reads: the system prompt (the research brief, then the
 * rules arswarm enforces, then the config's instructions) and the first
 * message of each conversation (the mode, the editable files at the head,
 * the journal).
 */
import type { PatchRules } from '../../../common/diff/index.js';
import type { ModePlan } from '../diversity.js';

export interface SystemPromptInput {
  /** The research brief (program.md). */
  brief: string;
  rules: PatchRules;
  stageParams: readonly string[];
  /** Extra instructions from the config. */
  instructions: string;
  maxAttempts: number;
}

/** The system prompt. */
export function systemPrompt(i: SystemPromptInput): string {
  const parts = [
    i.brief.trim(),
    '---',
    '# How you work here',
    'You are one of several research agents proposing candidates to an arswarm swarm. Each candidate is ' +
      'one idea, run on a GPU in a fixed time budget and kept only if it beats the current head by more ' +
      'than the measured noise, over several seeds and at a larger depth.',
    `- Editable files: ${i.rules.editable.join(', ')}. Locked (never change): ${i.rules.locked.join(', ') || 'none'}.`,
    i.rules.protected.length
      ? `- Protected lines (no edit may touch or add a line matching): ${i.rules.protected.map((p) => `\`${p}\``).join(', ')}.`
      : '',
    i.stageParams.length
      ? `- Set by arswarm per trial, do not propose: ${i.stageParams.join(', ')}, SEED, TIME_BUDGET.`
      : '- Set by arswarm per trial, do not propose: SEED, TIME_BUDGET.',
    `- A patch may be at most ${i.rules.maxPatchBytes} bytes as a unified diff.`,
    '- Use read_file, read_journal and list_history as needed, then call submit_candidate exactly once ' +
      'with one idea. Do not repeat ideas that were rejected, crashed or are in flight: duplicates are refused.',
    `- A refused submission comes back as a tool error; fix it and submit again (at most ${i.maxAttempts} tries).`,
    i.instructions.trim(),
  ];
  return parts.filter(Boolean).join('\n');
}

export interface FirstMessageInput {
  plan: ModePlan;
  head: string;
  /** Editable files inlined (path -> content); others are listed for read_file. */
  inline: ReadonlyMap<string, string>;
  others: readonly string[];
  journal: string;
}

/** The first user message of a conversation. */
export function firstMessage(i: FirstMessageInput): string {
  const out = [i.plan.instructions, '', `The shared branch head is ${i.head.slice(0, 12)}.`];
  for (const [path, content] of i.inline) out.push('', `<file path="${path}">`, content, '</file>');
  if (i.others.length)
    out.push('', `Other editable files (read them with read_file): ${i.others.join(', ')}`);
  out.push('', i.journal.trim(), '', 'Propose one candidate now with submit_candidate.');
  return out.join('\n');
}

/** Picks editable files to inline, smallest first, up to `maxBytes` in total. */
export function inlineFiles(
  files: ReadonlyMap<string, string>,
  maxBytes: number,
): { inline: Map<string, string>; others: string[] } {
  const inline = new Map<string, string>();
  const others: string[] = [];
  let used = 0;
  for (const [path, text] of [...files.entries()].sort((a, b) => a[1].length - b[1].length)) {
    const size = Buffer.byteLength(text);
    if (used + size <= maxBytes) {
      inline.set(path, text);
      used += size;
    } else others.push(path);
  }
  return { inline, others };
}
