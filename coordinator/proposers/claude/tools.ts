/**
 * The tools the claude proposer offers the model, their JSON schemas (what
 * the API sends the model) and the zod schemas that validate what comes back.
 */
import type { Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { z } from 'zod';
import type { IdeaStatus } from '../../journal.js';

/** Largest text of one replace string or hypothesis the tool accepts (the patch size limit applies after). */
export const MAX_EDIT_CHARS = 1_000_000;

export const submitCandidateInput = z
  .object({
    title: z.string().trim().min(3).max(120),
    hypothesis: z.string().trim().min(10).max(4000),
    edits: z
      .array(
        z
          .object({
            file: z.string().min(1).max(300),
            search: z.string().min(1).max(MAX_EDIT_CHARS),
            replace: z.string().max(MAX_EDIT_CHARS),
          })
          .strict(),
      )
      .min(1)
      .max(20),
  })
  .strict();
export type SubmitCandidateInput = z.infer<typeof submitCandidateInput>;

export const readFileInput = z.object({ path: z.string().min(1).max(300) }).strict();

export const HISTORY_FILTERS = [
  'all',
  'kept',
  'rejected',
  'near_miss',
  'crashed',
  'in_flight',
  'refused',
] as const;
export type HistoryFilter = (typeof HISTORY_FILTERS)[number];

export const listHistoryInput = z
  .object({
    status: z.enum(HISTORY_FILTERS).default('all'),
    limit: z.number().int().min(1).max(200).default(30),
    /** Show each idea's diff. */
    diffs: z.boolean().default(false),
    /** Only these candidate ids. */
    ids: z.array(z.string()).max(20).optional(),
  })
  .strict();

export const readJournalInput = z.object({}).strict();

/** Which history statuses a filter selects. */
export function matchesFilter(filter: HistoryFilter, e: { status: IdeaStatus; nearMiss: boolean }): boolean {
  if (filter === 'all') return true;
  if (filter === 'near_miss') return e.nearMiss;
  if (filter === 'in_flight') return e.status === 'in_flight' || e.status === 'review';
  return e.status === filter;
}

/** The tools as the Messages API takes them. */
export const TOOLS: Tool[] = [
  {
    name: 'read_file',
    description:
      'Read a file of the target repo at the current head of the shared branch (editable files and the locked evaluation alike).',
    input_schema: {
      type: 'object',
      properties: { path: { type: 'string', description: 'Path relative to the repo root, e.g. train.py' } },
      required: ['path'],
      additionalProperties: false,
    },
  },
  {
    name: 'read_journal',
    description:
      'Read the research journal: ideas kept, in flight, near misses, rejected (with their measured Δ), crashed (with the reason) and the best-so-far curve.',
    input_schema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'list_history',
    description:
      'List past ideas with their status and measured Δ per stage (positive = better), newest first; optionally with their diffs.',
    input_schema: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: [...HISTORY_FILTERS], description: 'Which ideas (default all)' },
        limit: { type: 'integer', minimum: 1, maximum: 200, description: 'How many (default 30)' },
        diffs: { type: 'boolean', description: 'Include each idea’s diff (default false)' },
        ids: { type: 'array', items: { type: 'string' }, description: 'Only these candidate ids' },
      },
      additionalProperties: false,
    },
  },
  {
    name: 'submit_candidate',
    description:
      'Submit exactly one idea as a candidate. Each edit replaces the only occurrence of `search` (copied exactly from the file, whitespace included) with `replace` in an editable file. Edits to locked files or protected lines, search strings that do not match exactly once, oversized patches, syntax errors and duplicates of ideas tried or in flight are refused with the reason; fix and submit again.',
    input_schema: {
      type: 'object',
      properties: {
        title: { type: 'string', description: 'The change in a few words, imperative' },
        hypothesis: {
          type: 'string',
          description:
            'Why it should improve the metric within the budget, what you expect, what would falsify it',
        },
        edits: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              file: { type: 'string' },
              search: { type: 'string', description: 'Exact text to replace; must occur once' },
              replace: { type: 'string' },
            },
            required: ['file', 'search', 'replace'],
            additionalProperties: false,
          },
        },
      },
      required: ['title', 'hypothesis', 'edits'],
      additionalProperties: false,
    },
  },
];

/** A zod error as a short list the model can act on. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 8)
    .map((i) => `- ${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`)
    .join('\n');
}
