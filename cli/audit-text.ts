/** How the CLI shows a candidate's top-stage audit: a short badge for lists, one line per flag for details. */
import { AuditSource } from '../gen/arswarm/v1/candidate_pb.js';
import type { CandidateSummary } from '../gen/arswarm/v1/control_pb.js';

const SOURCE: Record<AuditSource, string> = {
  [AuditSource.UNSPECIFIED]: 'audit',
  [AuditSource.RULE]: 'rule',
  [AuditSource.LLM]: 'llm auditor',
  [AuditSource.UNAUDITED]: 'not audited',
};

/** `flagged: seed-tamper, llm-suspect`, or '' when nothing flagged the candidate. */
export function flagBadge(s: CandidateSummary): string {
  const rules = [...new Set(s.flags.map((f) => f.rule))];
  return rules.length ? `flagged: ${rules.join(', ')}` : '';
}

/** One line per flag with its source and first reasons, then the audit's note. */
export function flagLines(s: CandidateSummary): string[] {
  const lines = s.flags.map((f) => {
    const by = f.auditorModel ? `${SOURCE[f.source]} ${f.auditorModel}` : SOURCE[f.source];
    return `flagged by ${by} (${f.rule}): ${f.reasons.slice(0, 3).join('; ')}`;
  });
  if (s.flags.length)
    lines.push('a flagged candidate merges only when a person approves it, whatever the merge policy');
  if (s.audit) lines.push(`audit: ${s.audit.note}`);
  return lines;
}
