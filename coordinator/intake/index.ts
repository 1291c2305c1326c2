/**
 * The intake: proposals admitted or refused as candidates (see intake.ts).
 */
export { Intake, type Submission } from './intake.js';
export type { IntakeOptions } from './options.js';
