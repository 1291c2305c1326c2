import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandNamed, COMMANDS } from './index.js';

describe('command registry', () => {
  it('lists each command as the loaded command describes itself', async () => {
    const help = new Help();
    for (const entry of COMMANDS) {
      const cmd = await entry.load();
      expect(cmd.name()).toBe(entry.name);
      expect(help.subcommandTerm(cmd), entry.name).toBe(entry.term);
      expect(cmd.description(), entry.name).toBe(entry.summary);
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  }, 60_000);

  it('finds the command a command line names, through `help NAME` too', () => {
    expect(commandNamed(['status', '--json'])?.name).toBe('status');
    expect(commandNamed(['--help'])).toBeUndefined();
    expect(commandNamed(['help', 'review'])?.name).toBe('review');
    expect(commandNamed(['help'])).toBeUndefined();
    expect(commandNamed(['nope'])).toBeUndefined();
  });
});
