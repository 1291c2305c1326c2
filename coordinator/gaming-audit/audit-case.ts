/**
 * What the LLM auditor is shown of a candidate that passed the top stage:
 * its diff, title and hypothesis, the evidence of every stage, and the
 * target's rules in words.
 */
import type { Config } from '../../common/config.js';
import type { CandidateView } from '../ledger/state.js';
import type { AuditCase } from './llm-auditor.js';

/** The audit case of a candidate's diff against a parent. */
export function auditCaseOf(config: Config, v: CandidateView, parent: string, diff: string): AuditCase {
  const t = config.target;
  return {
    candidateId: v.candidate.id,
    title: v.candidate.title,
    hypothesis: v.candidate.hypothesis,
    diff,
    metric: `${t.metric.name} (${t.metric.direction === 'minimize' ? 'lower' : 'higher'} is better)`,
    evidence: v.verdicts
      .filter((x) => x.n > 0)
      .map(
        (x) =>
          `${x.stage}: delta ${x.delta.toPrecision(4)} ± ${x.sigma.toPrecision(3)} over ${x.n} paired runs (${x.reason})`,
      ),
    rules: [
      `editable files: ${t.editable.join(', ')}`,
      `locked files (hashed before and after every run): ${t.locked.join(', ')}`,
      ...(t.protected.length ? [`protected lines (no patch may touch): ${t.protected.join('  ')}`] : []),
      'frozen region: from the evaluation call to the end of the file, nothing may change',
      `parent commit: ${parent}`,
    ],
  };
}
