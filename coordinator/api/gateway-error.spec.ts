import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArswarmError, Code, fromWire } from '../../common/errors.js';
import { sendError } from './gateway.js';

/** What the JSON body must carry through unchanged, apart from one another. */
const cases: Array<[string, ArswarmError]> = [
  [
    'a refusal with reason, field and hint',
    new ArswarmError(Code.Unauthenticated, 'missing bearer token', {
      reason: 'no_token',
      field: 'authorization',
      hint: 'pass --token or set ARSWARM_TOKEN (the dashboard asks for it)',
    }),
  ],
  [
    'non-ASCII text and context',
    new ArswarmError(Code.FailedPrecondition, 'Δ 0.01 ≤ 0.02', {
      reason: 'target_mismatch',
      field: 'target.constants.ΔT',
      hint: 'fix arswarm.yaml — then start again',
      candidateId: 'c00007',
      trialId: 'c00007.s0.r1',
    }),
  ],
  ['a bare error', new ArswarmError(Code.NotFound, 'no candidate "c99999"')],
];

describe('HTTP: the JSON error body', () => {
  let current: unknown = cases[0]![1];
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((_req, res) => sendError(res, current));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it.each(cases)('keeps %s, each in its own field', async (_what, err) => {
    current = err;
    const body = (await (await fetch(base)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: Code[err.code], message: err.message });
    expect(body.reason).toBe(err.reason);
    expect(body.field).toBe(err.field);
    expect(body.hint).toBe(err.hint);
    const back = fromWire(body);
    expect([
      back.code,
      back.message,
      back.reason,
      back.field,
      back.hint,
      back.trialId,
      back.candidateId,
    ]).toEqual([err.code, err.message, err.reason, err.field, err.hint, err.trialId, err.candidateId]);
  });

  it('answers with the status of the code, and an unknown throw as Internal', async () => {
    current = cases[0]![1];
    expect((await fetch(base)).status).toBe(401);
    current = new Error('boom');
    const res = await fetch(base);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ code: 'Internal', message: 'boom' });
  });
});
