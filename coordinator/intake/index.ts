/**
 * The intake: proposals admitted or refused as candidates (see intake.ts).
 */
export { Intake, type IntakeOptions, type Submission } from './intake.js';
