/**
 * One source for the NATS users: the permissions the chart renders
 * (templates/_nats-permissions.tpl) are exactly the ones `arswarm up` writes
 * for its embedded server (common/nats-permissions.ts), subject for subject,
 * for the default prefix and another one. A subject added on one side only
 * fails here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NATS_ROLES, natsPermissions, type UserPermissions } from '../../common/nats-permissions.js';
import { names } from '../../common/subjects.js';
import { find, installHelm, template } from './helm.js';

interface Rendered {
  publish?: { allow?: string[]; deny?: string[] };
  subscribe?: { allow?: string[]; deny?: string[] };
  allow_responses?: boolean;
}

/** Each user's `permissions: {...}` from the rendered authorization.conf, by user name. */
function renderedUsers(conf: string): Map<string, Rendered> {
  const out = new Map<string, Rendered>();
  const re = /user: "([^"]+)"[\s\S]*?permissions: (\{.*\})\n/g;
  for (const m of conf.matchAll(re)) {
    // NATS config with quoted subjects is JSON once its bare keys are quoted.
    out.set(m[1]!, JSON.parse(m[2]!.replace(/(\w+):/g, '"$1":')) as Rendered);
  }
  return out;
}

const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();

function normalize(p: Rendered | UserPermissions) {
  return {
    publish: { allow: sorted(p.publish?.allow), deny: sorted(p.publish?.deny) },
    subscribe: { allow: sorted(p.subscribe?.allow), deny: sorted(p.subscribe?.deny) },
    allowResponses: ('allowResponses' in p ? p.allowResponses : (p as Rendered).allow_responses) ?? false,
  };
}

beforeAll(() => {
  installHelm();
}, 600_000);

describe('NATS permissions: chart and common/nats-permissions.ts', () => {
  it.each(['arswarm', 'lab-2'])('are the same for prefix %s', async (prefix) => {
    const objs = await template([], [`config.swarm.prefix=${prefix}`]);
    const conf = find(objs, 'ConfigMap', 'swarm-arswarm-nats').data['authorization.conf'] as string;
    const users = renderedUsers(conf);
    expect([...users.keys()].sort()).toEqual([...NATS_ROLES].sort());
    const expected = natsPermissions(names(prefix));
    for (const role of NATS_ROLES) expect(normalize(users.get(role)!), role).toEqual(normalize(expected[role]));
  });
});
