/**
 * The gaming audit of candidates that passed the top stage, before they merge
 * or wait for review: the rule-based audit (the final diff against the parent
 * it merges onto, and the recorded results) always runs; the LLM auditor runs
 * when configured. Findings are `CandidateFlagged` events, and a
 * `CandidateAudited` event closes every audit. A flagged candidate merges only
 * with a person's approval, whatever the merge policy; an LLM audit that could
 * not run (budget spent, API failure, malformed answers) is a flag too, so a
 * missing audit never passes for a clean one.
 *
 * Audits run in the background, outside the coordinator's serial section (a
 * model may take a minute); the scheduler merges once the audit is recorded.
 */
import { AuditSource } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Config } from '../../common/config.js';
import { ArswarmError } from '../../common/errors.js';
import { integrityRules } from '../../common/integrity-config.js';
import { dedupeIds } from '../../common/subjects.js';
import { formatViolation, SemanticChecker, wantsCheck } from '../../common/python-check/index.js';
import type { Ledger } from '../ledger/ledger.js';
import type { CandidateView } from '../ledger/state.js';
import type { LlmCost } from '../proposers/proposer.js';
import { carriedPaths, carryOver } from '../../common/diff/index.js';
import type { TargetRepo } from '../repo.js';
import { diffFindings, moduleOf, type RuleFinding } from './diff-rules.js';
import { auditCaseOf } from './audit-case.js';
import type { LlmAuditor } from './llm-auditor.js';
import { resultFindings } from './result-rules.js';

export { buildAuditor, LlmAuditor } from './llm-auditor.js';
export { diffFindings } from './diff-rules.js';
export { resultFindings } from './result-rules.js';

export interface GamingAuditDeps {
  config: Config;
  ledger: Ledger;
  repo: TargetRepo;
  /** Runs a state change in turn with the scheduler (the coordinator's serial section). */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The LLM auditor (from `auditor:`). @default none: rules only */
  auditor?: LlmAuditor;
  log: (msg: string) => void;
}

/** True when the candidate's current diff has a finished audit. */
export function audited(v: CandidateView): boolean {
  return v.audit?.parentCommit === v.parent;
}

type Flag = RuleFinding & { source: AuditSource; model?: string };

export class GamingAudit {
  /** Audits in progress by `candidate@parent`. */
  private readonly running = new Map<string, Promise<void>>();
  /** The intake's semantic checker, run again on the final diff (started on first use). */
  private semantic?: SemanticChecker;

  constructor(private readonly d: GamingAuditDeps) {}

  /** Starts the audit of a candidate's current diff unless it is done or running. */
  request(v: CandidateView): void {
    if (audited(v)) return;
    const key = `${v.candidate.id}@${v.parent}`;
    if (this.running.has(key)) return;
    const p = this.run(v.candidate.id, v.parent, v.diff)
      .catch((err: unknown) =>
        this.d.log(`audit of ${v.candidate.id} failed, will retry: ${ArswarmError.from(err).message}`),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, p);
  }

  /** True while an audit of the candidate's current diff runs. */
  pending(v: CandidateView): boolean {
    return this.running.has(`${v.candidate.id}@${v.parent}`);
  }

  /** Stops the semantic checker's python3. */
  close(): void {
    this.semantic?.close();
  }

  /** Resolves when every audit started so far has been recorded. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }

  private async run(id: string, parent: string, diff: string): Promise<void> {
    const { ledger } = this.d;
    const v = ledger.state.candidates.get(id);
    if (!v) return;
    const flags: Flag[] = [];
    // One finding per rule id: the semantic checker and the audit's own rules share ids.
    const byRule = new Map<string, string[]>();
    for (const f of [...(await this.diffRules(parent, diff)), ...(await this.resultRules(v))])
      byRule.set(f.rule, [...(byRule.get(f.rule) ?? []), ...f.reasons].slice(0, 8));
    for (const [rule, reasons] of byRule) flags.push({ rule, reasons, source: AuditSource.RULE });
    let usage: LlmCost | undefined;
    let note = `rules: ${flags.length ? flags.map((f) => f.rule).join(', ') : 'clean'}`;
    const auditor = this.d.auditor;
    if (auditor) {
      const over = this.overBudget();
      if (over) {
        flags.push({
          source: AuditSource.UNAUDITED,
          rule: 'llm-budget-spent',
          reasons: [`the auditor's ${over} budget is spent; a person reviews instead`],
          model: auditor.model,
        });
        note += `; llm: skipped (${over} budget spent)`;
      } else {
        const r = await auditor.audit(auditCaseOf(this.d.config, v, parent, diff));
        usage = r.usage;
        note += `; llm: ${r.kind} (${auditor.model}, $${r.usage.costUsd.toFixed(4)})`;
        if (r.kind !== 'ok')
          flags.push({
            source: r.kind === 'suspect' ? AuditSource.LLM : AuditSource.UNAUDITED,
            rule: r.kind === 'suspect' ? 'llm-suspect' : 'llm-unavailable',
            reasons: r.reasons,
            model: auditor.model,
          });
      }
    }
    await this.d.exclusive(async () => {
      for (const f of flags)
        await ledger.append({
          case: 'candidateFlagged',
          value: {
            candidateId: id,
            parentCommit: parent,
            source: f.source,
            rule: f.rule,
            reasons: f.reasons,
            auditorModel: f.model ?? '',
          },
        });
      await ledger.append(
        {
          case: 'candidateAudited',
          value: {
            candidateId: id,
            parentCommit: parent,
            flags: flags.length,
            note,
            usage: usage && {
              inputTokens: BigInt(usage.inputTokens),
              outputTokens: BigInt(usage.outputTokens),
              costUsd: usage.costUsd,
              model: usage.model,
            },
          },
        },
        dedupeIds.audited(id, parent),
      );
    });
    this.d.log(
      flags.length
        ? `${id} flagged by the audit (${flags.map((f) => f.rule).join(', ')}): waits for a person`
        : `${id} passed the audit (${note})`,
    );
  }

  /** Which budget of the auditor is spent, if any. */
  private overBudget(): string | undefined {
    const b = this.d.config.auditor?.budget;
    const s = this.d.ledger.state;
    if (!b) return undefined;
    if (b.tokens > 0 && s.auditTokens >= b.tokens) return 'token';
    if (b.dollars > 0 && s.auditCostUsd >= b.dollars) return 'dollar';
    return undefined;
  }

  private async diffRules(parent: string, diff: string): Promise<RuleFinding[]> {
    const t = this.d.config.target;
    const texts = new Map<string, string>();
    for (const path of carriedPaths(diff) ?? []) {
      const text = await this.d.repo.readFile(parent, path);
      if (text !== undefined) texts.set(path, text);
    }
    let patched: Map<string, string>;
    try {
      patched = carryOver(diff, texts);
    } catch (err) {
      return [
        {
          rule: 'patch-rules',
          reasons: [`does not apply to ${parent.slice(0, 7)}: ${ArswarmError.from(err).message}`],
        },
      ];
    }
    return [
      ...(await this.semanticFindings(texts, patched)),
      ...diffFindings({
        diff,
        patched,
        lockedModules: t.locked.map(moduleOf).filter((m): m is string => !!m),
        rules: {
          editable: t.editable,
          locked: t.locked,
          protected: t.protected,
          maxPatchBytes: t.max_patch_bytes,
        },
      }),
    ];
  }

  /**
   * The semantic check of the intake (common/python-check), run again on the
   * final diff: the rules may have changed since intake, and a rebased diff
   * was never checked. A checker that cannot answer is a finding, not a pass.
   */
  private async semanticFindings(
    before: ReadonlyMap<string, string>,
    after: ReadonlyMap<string, string>,
  ): Promise<RuleFinding[]> {
    const rules = integrityRules(this.d.config.target);
    const files = [...after.keys()];
    if (!wantsCheck(files, rules)) return [];
    this.semantic ??= new SemanticChecker();
    try {
      const found = await this.semantic.violations(
        files.map((path) => ({ path, before: before.get(path), after: after.get(path) })),
        rules,
      );
      const byRule = new Map<string, string[]>();
      for (const x of found) byRule.set(x.rule, [...(byRule.get(x.rule) ?? []), formatViolation(x)]);
      return [...byRule].map(([rule, reasons]) => ({ rule, reasons }));
    } catch (err) {
      return [{ rule: 'checker-unavailable', reasons: [ArswarmError.from(err).message] }];
    }
  }

  private async resultRules(v: CandidateView): Promise<RuleFinding[]> {
    const s = this.d.ledger.state;
    const top = this.d.config.stages.at(-1)!;
    const results = [];
    for (const tv of s.candidateTrials(v.candidate.id))
      if (tv.result) results.push((await this.d.ledger.result(tv.trial.id)) ?? tv.result);
    const classes = new Set(results.map((r) => r.gpuClass));
    return resultFindings({
      results,
      baselineMetrics: [...classes].flatMap((c) => s.baseline(v.parent, top.name, c).map((x) => x.metric)),
      topStage: top.name,
      stages: new Map(
        this.d.config.stages.map((st) => [
          st.name,
          { budgetSeconds: st.budget_seconds, timeoutSeconds: st.timeout_seconds ?? st.budget_seconds + 120 },
        ]),
      ),
    });
  }
}
