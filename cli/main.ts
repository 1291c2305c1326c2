/**
 * The `arswarm` command line. Flags and environment variables are parsed here
 * and in cli/commands/*, nowhere else.
 */
import { Command, CommanderError, Help } from 'commander';
import { ArswarmError, Code } from '../common/errors.js';
import { commandNamed, COMMANDS } from './commands/index.js';

const program = new Command()
  .name('arswarm')
  .description(
    'Autoresearch as a swarm: a coordinator, GPU workers over NATS JetStream, a noise-aware promotion ladder and a shared git branch.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

// Only the command that runs is loaded. Without one (`arswarm --help`, an
// unknown name) every command is listed from the registry, none loaded.
const named = commandNamed(process.argv.slice(2));
if (named) program.addCommand(await named.load());
else {
  for (const c of COMMANDS) program.command(c.name).description(c.summary);
  const terms = new Map(COMMANDS.map((c) => [c.name, c.term]));
  const help = new Help();
  program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? help.subcommandTerm(cmd) });
}

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
  // The message, then the hint on its own line (common/error-wire.ts describeWire).
  console.error(`arswarm: ${e.describe()}`);
  process.exit(exitCodeOf(e));
}
