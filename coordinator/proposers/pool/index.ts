/**
 * The proposal pool: proposers run in the background and ready proposals
 * are buffered ahead of need (see pool.ts).
 */
export { ProposalPool } from './pool.js';
export type {
  BaseContext,
  PoolDeps,
  PoolOptions,
  PoolStats,
  PriorSpend,
  ReadyProposal,
  Spend,
} from './types.js';
