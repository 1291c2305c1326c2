/**
 * Facts written both in the chart's values.yaml and in code must agree: the
 * swarm defaults (common/config.ts) and the bundled `landscape` example the
 * chart deploys by default.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { swarmSchema } from '../../common/config.js';
import { parseConfig } from '../../common/config-load.js';
import { chartValues, ROOT } from './helm.js';

/** Swarm keys the chart sets itself (NATS URL, state volume) or that mean nothing on Kubernetes. */
const SET_BY_CHART = ['nats_url', 'state_dir', 'workers'];
/** Swarm keys without a default (optional in the schema). */
const OPTIONAL = ['push_remote'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const config = (chartValues() as any).config;

describe('values.yaml defaults', () => {
  it('config.swarm equals the code defaults (swarmSchema.parse({})) key for key', () => {
    const code = swarmSchema.parse({}) as Record<string, unknown>;
    const expected = Object.fromEntries(Object.entries(code).filter(([k]) => !SET_BY_CHART.includes(k)));
    expect(config.swarm).toEqual(expected);
    // Every default the code has is either in values.yaml or set by the chart.
    for (const k of Object.keys(swarmSchema.shape)) {
      expect(k in config.swarm || SET_BY_CHART.includes(k) || OPTIONAL.includes(k), k).toBe(true);
    }
  });

  it('the code defaults this chart depends on have the documented values', () => {
    const code = swarmSchema.parse({});
    expect(code).toMatchObject({
      grpc_port: 50051,
      http_port: 8080,
      prefix: 'arswarm',
      branch: 'arswarm/main',
      merge_policy: 'review',
      baseline_replicates: 3,
      ack_wait_seconds: 60,
    });
  });

  it('the default target and ladder are the bundled landscape example, repo baked into the image', () => {
    const example = parseYaml(readFileSync(join(ROOT, 'examples', 'landscape', 'arswarm.yaml'), 'utf8'));
    expect({ ...config.target, repo: '.' }).toEqual(example.target);
    expect(config.stages).toEqual(example.stages);
    expect(config.proposers).toEqual(example.proposers);
    expect(config.target.repo).toBe('/app/examples/landscape');
  });

  it('is a valid arswarm.yaml as it stands', () => {
    const parsed = parseConfig(config, 'values.yaml config');
    expect(parsed.stages.map((s) => s.name)).toEqual(['screen', 'confirm', 'scale']);
  });
});
