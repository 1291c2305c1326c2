/**
 * KEDA reads a pool's lag from the NATS monitoring endpoint, per consumer a
 * trigger names: num_pending + num_ack_pending, or, when the consumer does not
 * exist, the stream's last sequence (so a missing queue pins the pool at its
 * maximum). The chart renders the triggers; a real coordinator started from
 * the arswarm.yaml the same render produces must have every one of those
 * consumers from its start, each reading the lag of its own queue only.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import { apiSchema, type Config } from '../../common/config.js';
import { freePort, startNatsServer, type NatsServer } from '../../common/nats-server.js';
import { names } from '../../common/subjects.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { find, installHelm, ofKind, ROOT, template, VALUE_SETS, type K8sObject } from './helm.js';

/** The parts of `/jsz?acc=…&consumers=true&config=true` KEDA's nats-jetstream scaler reads. */
interface Jsz {
  account_details?: {
    name: string;
    stream_detail?: {
      name: string;
      state: { last_seq: number };
      consumer_detail?: { name: string; num_pending: number; num_ack_pending: number }[];
    }[];
  }[];
}

/** KEDA's getMaxMsgLag: the consumer's pending + ack pending, else the stream's last sequence. */
function kedaLag(jsz: Jsz, account: string, stream: string, consumer: string): { lag: number; found: boolean } {
  const s = jsz.account_details?.find((a) => a.name === account)?.stream_detail?.find((x) => x.name === stream);
  if (!s) throw new Error(`stream ${stream} not in /jsz of account ${account}`);
  const c = s.consumer_detail?.find((x) => x.name === consumer);
  return c ? { lag: c.num_pending + c.num_ack_pending, found: true } : { lag: s.state.last_seq, found: false };
}

let objs: K8sObject[];
let config: Config;
let nats: NatsServer;
let monitor: number;
let nc: NatsConnection;
let coordinator: Coordinator | undefined;
let dir: string;

beforeAll(async () => {
  installHelm();
  objs = await template(VALUE_SETS['GPU pools H100 + H200']!, ['keda.enabled=true']);
  const text = find(objs, 'ConfigMap', 'swarm-arswarm-coordinator').data['arswarm.yaml'] as string;
  config = parseConfig(parseYaml(text), 'rendered arswarm.yaml');
  dir = mkdtempSync(join(tmpdir(), 'arswarm-keda-'));
  monitor = await freePort();
  nats = await startNatsServer({ storeDir: join(dir, 'nats'), extraConfig: `http: 127.0.0.1:${monitor}` });
  nc = await connect({ servers: nats.url });
}, 600_000);

afterAll(async () => {
  await coordinator?.close().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('KEDA triggers and stage consumers', () => {
  it('every consumer a rendered trigger names exists from coordinator start, each with its own queue as lag', async () => {
    const scaled = ofKind(objs, 'ScaledObject');
    expect(scaled.length).toBe(2);
    const triggers = scaled.flatMap((so) =>
      (so.spec.triggers as { metadata: Record<string, string> }[]).map((t) => t.metadata),
    );
    const consumers = [...new Set(triggers.map((t) => t.consumer!))].sort();
    // The pools' classes reach the coordinator through the same render.
    expect(config.swarm.gpu_classes).toEqual(['H100-80GB', 'H200-141GB']);
    expect(consumers).toHaveLength(config.stages.length * 3);

    // The rendered config as the coordinator pod would read it, with this machine's NATS,
    // volume and a copy of the image's landscape example.
    const repoDir = join(dir, 'target');
    cpSync(join(ROOT, 'examples', 'landscape'), repoDir, { recursive: true });
    config.target.repo = repoDir;
    config.swarm.stream_replicas = 1; // one test server, not the chart's 3-node cluster
    config.api = apiSchema.parse({}); // its files are mounted Secrets, which only the pod has
    coordinator = await Coordinator.start({
      config,
      repoDir,
      stateDir: join(dir, 'state'),
      natsUrl: nats.url,
      grpcPort: 0,
      httpPort: 0,
      log: () => undefined,
    });
    const n = names(config.swarm.prefix);
    for (const t of triggers) expect(t.stream).toBe(n.trialsStream);

    // Two trials for H200 workers: only that queue's trigger may see them.
    const js = jetstream(nc);
    const busy = n.stageConsumer('screen', 'H200-141GB');
    for (const id of ['keda-1', 'keda-2'])
      await js.publish(n.trials('screen', 'H200-141GB'), new Uint8Array([1]), { msgID: id });

    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(n.trialsStream, { subjects_filter: '>' });
    const queued = info.state.subjects ?? {};
    const res = await fetch(`http://127.0.0.1:${monitor}/jsz?acc=${encodeURIComponent('$G')}&consumers=true&config=true`);
    const jsz = (await res.json()) as Jsz;
    expect(info.state.last_seq).toBeGreaterThanOrEqual(2);
    for (const t of triggers) {
      const { lag, found } = kedaLag(jsz, t.account!, t.stream!, t.consumer!);
      expect(found, `${t.consumer} exists`).toBe(true);
      const c = await jsm.consumers.info(n.trialsStream, t.consumer!);
      // The lag is what waits on the consumer's own subject, never the stream's history.
      expect(lag, t.consumer).toBe(queued[c.config.filter_subject!] ?? 0);
      if (t.consumer === busy) expect(lag).toBe(2);
    }
    // Queues no live worker has pulled from yet read 0 (the H100 pool is not pinned at its maximum).
    expect(kedaLag(jsz, '$G', n.trialsStream, n.stageConsumer('scale', 'H100-80GB')).lag).toBe(0);
  }, 60_000);
});
