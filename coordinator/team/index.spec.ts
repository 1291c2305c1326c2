import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import { Ledger, memoryStore } from '../ledger/ledger.js';
import type { TargetRepo } from '../repo.js';
import { startTeam, type Signal } from './index.js';

describe('startTeam notices on a local HTTP receiver', () => {
  const got: { path: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
  let server: Server;
  let url = '';
  let refuse = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        got.push({
          path: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(body) as Record<string, unknown>,
        });
        res.writeHead(refuse && req.url === '/refuse' ? 400 : 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const config = (webhooks: unknown[]) =>
    parseConfig({
      target: { repo: '.', editable: ['train.py'], locked: [], command: 'python3 train.py' },
      stages: [{ name: 'screen', env: {}, budget_seconds: 10 }],
      notify: { webhooks },
    });

  it('notices a spent proposer budget once, and a stall when it starts, only to hooks that want them', async () => {
    got.length = 0;
    const ledger = await Ledger.open(memoryStore(), ['screen']);
    let signals: Signal[] = [];
    const team = startTeam({
      config: config([{ url: `${url}/all` }, { url: `${url}/merges`, events: ['merged'] }]),
      repo: undefined as unknown as TargetRepo, // no review branches asked for: the repo is never touched
      ledger,
      signals: () => signals,
      log: () => undefined,
      pollMs: 20,
      backoffMs: 10,
    });
    const exhausted = { proposer: 'claude', code: 'budget_exhausted', reason: 'budget exhausted ($5)' };
    await ledger.append({ case: 'proposerFailed', value: exhausted });
    await ledger.append({ case: 'proposerFailed', value: exhausted });
    await ledger.append({
      case: 'proposerFailed',
      value: { proposer: 'claude', code: 'invalid_output', reason: 'x' },
    });
    signals = [{ kind: 'stalled', text: 'screen: no live worker can run it' }];
    await new Promise((r) => setTimeout(r, 100));
    signals = [];
    await new Promise((r) => setTimeout(r, 60));
    signals = [{ kind: 'stalled', text: 'screen: no live worker can run it' }];
    await new Promise((r) => setTimeout(r, 60));
    await team.close();
    expect(got.every((g) => g.path === '/all')).toBe(true);
    expect(got.map((g) => g.body.kind)).toEqual(['budget_exhausted', 'stalled', 'stalled']);
    expect(got[0]!.body).toMatchObject({
      id: 'budget_exhausted.claude',
      proposer: 'claude',
      text: 'budget exhausted ($5)',
    });
    expect(got[0]!.headers['x-arswarm-signature']).toBeUndefined();
    // The same stall after it ended is a new notice, with a new id.
    expect(got[1]!.body.id).not.toBe(got[2]!.body.id);
  });

  it('gives up at once on a 4xx answer', async () => {
    got.length = 0;
    refuse = true;
    const ledger = await Ledger.open(memoryStore(), ['screen']);
    const team = startTeam({
      config: config([{ url: `${url}/refuse`, format: 'slack' }]),
      repo: undefined as unknown as TargetRepo,
      ledger,
      signals: () => [],
      log: () => undefined,
      backoffMs: 10,
    });
    await ledger.append({
      case: 'proposerFailed',
      value: { proposer: 'p', code: 'budget_exhausted', reason: 'spent' },
    });
    await team.notifier!.idle();
    await team.close();
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toMatchObject({ text: 'spent' });
    expect(team.notifier!.failed).toBe(1);
  });
});
