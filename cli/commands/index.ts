/**
 * Every subcommand: its name, the line the top-level help shows for it, and
 * how to load it. A command's module (and whatever it imports: the gRPC client
 * and protobuf code, the coordinator, the worker) loads only when that command
 * runs or shows its own help, so `arswarm --help` loads none of them.
 * index.spec.ts checks that each `term` and `summary` is what the loaded
 * command says of itself.
 */
import type { Command } from 'commander';

export interface CommandEntry {
  name: string;
  /** Name, `[options]` and arguments, as commander prints them. */
  term: string;
  /** The command's description. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'up',
    term: 'up [options]',
    summary: 'run a local swarm: nats-server, the coordinator and N workers',
    load: async () => (await import('./up.js')).upCommand(),
  },
  {
    name: 'demo',
    term: 'demo [options]',
    summary:
      'a bounded local run of a bundled example (fresh state), then the shared branch log and results.tsv',
    load: async () => (await import('./up.js')).demoCommand(),
  },
  {
    name: 'coordinator',
    term: 'coordinator [options]',
    summary: 'run the coordinator (NATS must be reachable; see `arswarm up` for a local swarm)',
    load: async () => (await import('./coordinator.js')).coordinatorCommand(),
  },
  {
    name: 'worker',
    term: 'worker [options]',
    summary: 'pull trials from the swarm and run them, one loop per GPU',
    load: async () => (await import('./worker.js')).workerCommand(),
  },
  {
    name: 'status',
    term: 'status [options]',
    summary: 'show the swarm: head, trials, stages, workers',
    load: async () => (await import('./status.js')).statusCommand(),
  },
  {
    name: 'ls',
    term: 'ls [options]',
    summary: 'list candidates (newest last)',
    load: async () => (await import('./candidates.js')).lsCommand(),
  },
  {
    name: 'show',
    term: 'show [options] <id>',
    summary: 'a candidate: hypothesis, evidence per stage, trials',
    load: async () => (await import('./candidates.js')).showCommand(),
  },
  {
    name: 'diff',
    term: 'diff [options] <id>',
    summary: "print a candidate's patch (current, after any rebase)",
    load: async () => (await import('./candidates.js')).diffCommand(),
  },
  {
    name: 'review',
    term: 'review [options] [action] [id]',
    summary: 'list candidates waiting for review, or approve / reject one',
    load: async () => (await import('./review.js')).reviewCommand(),
  },
  {
    name: 'submit',
    term: 'submit [options] <patch>',
    summary: 'submit a unified diff (editable files only) as a candidate; `-` reads stdin',
    load: async () => (await import('./submit.js')).submitCommand(),
  },
  {
    name: 'scale',
    term: 'scale [options] <n>',
    summary: 'set the number of workers (local processes or a Kubernetes pool); scaling down drains',
    load: async () => (await import('./operate.js')).scaleCommand(),
  },
  {
    name: 'pause',
    term: 'pause [options]',
    summary: 'stop starting new candidates (trials in flight finish)',
    load: async () => (await import('./operate.js')).pauseCommand(),
  },
  {
    name: 'resume',
    term: 'resume [options]',
    summary: 'start new candidates again',
    load: async () => (await import('./operate.js')).resumeCommand(),
  },
  {
    name: 'export',
    term: 'export [options]',
    summary: "results.tsv in autoresearch's columns (commit, val_bpb, memory_gb, status, description)",
    load: async () => (await import('./results.js')).exportCommand(),
  },
  {
    name: 'logs',
    term: 'logs [options] <trial>',
    summary: "a trial's log tail, as its worker reported it",
    load: async () => (await import('./results.js')).logsCommand(),
  },
  {
    name: 'rerun',
    term: 'rerun [options] <trial>',
    summary: 'reproduce a finished trial exactly (commit, patch, stage env, seed, class) and compare',
    load: async () => (await import('./rerun.js')).rerunCommand(),
  },
  {
    name: 'report',
    term: 'report [options]',
    summary: 'how well small runs predicted larger ones, what each stage cost',
    load: async () => (await import('./results.js')).reportCommand(),
  },
  {
    name: 'whoami',
    term: 'whoami [options]',
    summary: "show the token's name and role",
    load: async () => (await import('./status.js')).whoamiCommand(),
  },
];

/** The subcommand a command line names (`help NAME` names NAME), if any. */
export function commandNamed(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}
