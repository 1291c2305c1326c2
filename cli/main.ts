/**
 * The `arswarm` command line. Flags and environment variables are parsed here
 * and in cli/commands/*, nowhere else.
 */
import { Command, CommanderError } from 'commander';
import { ArswarmError, Code } from '../common/errors.js';
import { diffCommand, lsCommand, showCommand } from './commands/candidates.js';
import { pauseCommand, resumeCommand, scaleCommand } from './commands/operate.js';
import { exportCommand, logsCommand, reportCommand } from './commands/results.js';
import { reviewCommand } from './commands/review.js';
import { statusCommand, whoamiCommand } from './commands/status.js';
import { submitCommand } from './commands/submit.js';

const program = new Command()
  .name('arswarm')
  .description(
    'Autoresearch as a swarm: a coordinator, GPU workers over NATS JetStream, a noise-aware promotion ladder and a shared git branch.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

/** Control commands: light (a gRPC client), loaded always. */
const CONTROL: Record<string, () => Command> = {
  status: statusCommand,
  ls: lsCommand,
  show: showCommand,
  diff: diffCommand,
  review: reviewCommand,
  submit: submitCommand,
  scale: scaleCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  export: exportCommand,
  logs: logsCommand,
  report: reportCommand,
  whoami: whoamiCommand,
};

/** The swarm's own processes pull in the coordinator and the worker: loaded only when they may run (or for help). */
async function processCommands(): Promise<Command[]> {
  const [up, coordinator, worker] = await Promise.all([
    import('./commands/up.js'),
    import('./commands/coordinator.js'),
    import('./commands/worker.js'),
  ]);
  return [up.upCommand(), up.demoCommand(), coordinator.coordinatorCommand(), worker.workerCommand()];
}

const invoked = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (!(invoked && invoked in CONTROL)) for (const c of await processCommands()) program.addCommand(c);
for (const make of Object.values(CONTROL)) program.addCommand(make());

/** Exit codes: 0 ok, 1 failure, 2 usage/bad input, 3 not found, 4 unavailable, 5 refused (auth/permission). */
export function exitCodeOf(e: ArswarmError): number {
  switch (e.code) {
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
      return 2;
    case Code.NotFound:
      return 3;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return 4;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return 5;
    default:
      return 1;
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const e = ArswarmError.from(err);
  console.error(`arswarm: ${e.describe()}`);
  process.exit(exitCodeOf(e));
}
