/**
 * The scripted models of the red-team suite, answering through the local
 * Messages-API server: a researcher that submits one attack per conversation
 * (and records the refusal it gets back), and an auditor that suspects only
 * a hypothesis admitting it fitted the scorer.
 */
import type { Scenario } from '../support/messages-api-server.js';
import { AUDITOR_TELL, type ProposerAttack } from './attacks.js';

/** Conversation k submits the k-th attack; a refused submission ends the conversation. */
export function scriptedResearcher(attacks: readonly ProposerAttack[]): {
  model: Scenario;
  /** The tool error each refused submission got back, by attack id. */
  refusals: Map<string, string>;
} {
  const queue = [...attacks];
  const byConversation = new Map<number, ProposerAttack>();
  const refusals = new Map<string, string>();
  const model: Scenario = (t) => {
    let a = byConversation.get(t.conversation);
    if (!a && t.turn === 0) {
      a = queue.shift();
      if (a) byConversation.set(t.conversation, a);
    }
    if (!a) return { content: [{ type: 'text', text: 'No more ideas.' }], delayMs: 1000 };
    if (t.turn === 0)
      return {
        content: [
          {
            type: 'tool_use',
            name: 'submit_candidate',
            input: { title: a.title, hypothesis: a.hypothesis, edits: a.edits },
          },
        ],
      };
    refusals.set(a.id, t.toolResults.map((r) => r.content).join('\n'));
    return { content: [{ type: 'text', text: 'Understood, no other idea.' }] };
  };
  return { model, refusals };
}

/** Answers report_audit: suspect when the candidate's text admits fitting the scorer, else ok. */
export const scriptedAuditor: Scenario = (t) => ({
  content: [
    {
      type: 'tool_use',
      name: 'report_audit',
      input: t.firstUserText.includes(AUDITOR_TELL)
        ? {
            verdict: 'suspect',
            reasons: ['the hypothesis says BATCH_SIZE was fitted to the scoring formula in prepare.py'],
          }
        : { verdict: 'ok', reasons: [] },
    },
  ],
});
