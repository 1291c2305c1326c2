/**
 * Bad model outputs, scripted on the local Messages-API server: each
 * conversation must end as one ProposerFailed event with a clear code and a
 * reason naming the problem, and no candidate. The proposer allows one
 * refused submission per conversation, so each conversation is one request
 * (two turns for the tool-only case). A one-off error reply answers the next
 * request whatever its conversation, so it comes before a single-turn case.
 */
import { scenarios, type Scenario, type Step } from '../support/messages-api-server.js';

export interface LlmCase {
  readonly name: string;
  readonly step: Step;
  /** ProposerFailed.code */
  readonly code: string;
  readonly reason: RegExp;
}

const named = (name: string, f: Scenario): Scenario => Object.assign(f, { scenarioName: name });

/** Calls a tool that does not exist, on every turn. */
const unknownTool = named('unknown_tool', () => ({
  content: [{ type: 'tool_use', name: 'run_shell', input: { command: 'cat ~/.ssh/id_rsa' } }],
}));

const submitting = (name: string, input: unknown): Step => ({ conversation: scenarios.always(name, input) });

const edit = (file: string, search: string, replace: string) => ({ file, search, replace });
const ok = { title: 'a change', hypothesis: 'This should lower the metric a little.' };

export const LLM_CASES: readonly LlmCase[] = [
  {
    name: 'tool input cut off mid-JSON',
    step: { conversation: scenarios.malformedJson() },
    code: 'invalid_tool_input',
    reason: /submit_candidate input does not match its schema/,
  },
  {
    name: 'fields of the wrong type',
    step: submitting('wrong_types', { title: 42, hypothesis: ['x'], edits: 'train.py' }),
    code: 'invalid_tool_input',
    reason: /does not match its schema:[\s\S]*title/,
  },
  {
    name: 'no edits',
    step: submitting('no_edits', { ...ok, edits: [] }),
    code: 'invalid_tool_input',
    reason: /edits/,
  },
  {
    name: 'unknown fields in the tool input',
    step: submitting('extra_field', {
      ...ok,
      edits: [edit('train.py', 'DROPOUT = 0.1', 'DROPOUT = 0.2')],
      run: 'rm -rf /',
    }),
    code: 'invalid_tool_input',
    reason: /Unrecognized key.*run/,
  },
  {
    name: 'an edit outside the work tree',
    step: submitting('path_traversal', { ...ok, edits: [edit('../prepare.py', 'import', 'import os')] }),
    code: 'not_editable',
    reason: /\.\.\/prepare\.py is not editable/,
  },
  {
    name: 'an edit of the locked evaluation',
    step: { conversation: scenarios.lockedFile() },
    code: 'locked_file',
    reason: /prepare\.py is locked/,
  },
  {
    name: 'an edit of a protected line',
    step: submitting('protected_line', {
      ...ok,
      edits: [
        edit(
          'train.py',
          'print(f"val_bpb:          {val_bpb:.6f}")',
          'print(f"val_bpb:          {0.5:.6f}")',
        ),
      ],
    }),
    code: 'protected_line',
    reason: /protected line in train\.py/,
  },
  {
    name: 'a search string that occurs more than once',
    step: submitting('ambiguous', { ...ok, edits: [edit('train.py', ' = 0.', ' = 1.')] }),
    code: 'search_ambiguous',
    reason: /occurs \d+ times in train\.py/,
  },
  {
    name: 'code that does not compile',
    step: { conversation: scenarios.syntaxError('GRAD_CLIP = 1.0') },
    code: 'syntax_error',
    reason: /train\.py does not compile/,
  },
  {
    name: 'a patch over the size limit',
    step: { conversation: scenarios.oversized('GRAD_CLIP = 1.0') },
    code: 'too_large',
    reason: /patch is \d+ bytes \(limit 65536\)/,
  },
  {
    name: 'the API refuses the request (400)',
    step: {
      reply: {
        status: 400,
        body: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: too large' } },
      },
    },
    code: 'bad_request',
    reason: /400/,
  },
  {
    name: 'text only, no tool call',
    step: { conversation: scenarios.textOnly() },
    code: 'no_candidate',
    reason: /without calling submit_candidate/,
  },
  {
    name: 'only tools that do not exist',
    step: { conversation: unknownTool },
    code: 'too_many_turns',
    reason: /no valid candidate within 2 requests/,
  },
];

/** The conversation after the bad ones: a valid idea, which must become a candidate whose trials run. */
export const GOOD_AFTER_LLM: Step = {
  conversation: scenarios.good(
    edit('train.py', 'WEIGHT_DECAY = 0.0', 'WEIGHT_DECAY = 0.01'),
    'a little weight decay',
  ),
};
