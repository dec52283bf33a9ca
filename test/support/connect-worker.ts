/**
 * A Kafka Connect worker of a test's own, for faults that must not touch the
 * shared worker on :8083 (other tests' connectors run there): started from the
 * stack's jars ($CDCV_STACK_DIR/lib and plugins, default <repo>/.stack, as
 * scripts/stack/up.sh starts the shared one) on a free port, with its own group
 * id and storage topics, so it can be killed with SIGKILL, restarted and
 * removed without anyone else noticing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { loadEnv } from '../../src/config.ts';
import { ConnectClient } from '../../src/connect/client.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The stack folder (jars, plugins, logs), as scripts/stack/env.sh resolves it. */
export const STACK_DIR = resolve(REPO, process.env.CDCV_STACK_DIR ?? '.stack');

export interface ConnectWorkerOptions {
  /** Names the worker's group and storage topics (`cdcv-connect-<name>-…`) and its log file. @defaultValue a random id */
  name?: string;
  /** How often source offsets are committed, ms (Debezium re-sends what came after the last commit when killed). @defaultValue 1000 */
  offsetFlushIntervalMs?: number;
  /** Metadata refresh of the source tasks' producers, ms: how soon they write to partitions added to a topic. @defaultValue Kafka's 300000 */
  producerMetadataMaxAgeMs?: number;
  /** How long start and restart may take until the REST API serves the Debezium plugin, ms. @defaultValue 120000 */
  startTimeoutMs?: number;
}

/** A free TCP port on the loopback interface (the OS picks it; released before return). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? res(address.port) : rej(new Error('no port'))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One test-owned Kafka Connect worker (distributed mode, a group of one). */
export class ConnectWorker {
  /** REST URL, e.g. http://localhost:40123. */
  readonly url: string;
  /** Its ConnectClient (register, status, delete). */
  readonly client: ConnectClient;
  /** The worker's group id; its storage topics are `<groupId>-{configs,offsets,status}`. */
  readonly groupId: string;
  /** Times the worker was killed with SIGKILL. */
  kills = 0;
  private child?: ChildProcess;
  private readonly props: string;
  private readonly log: string;

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly opts: ConnectWorkerOptions,
  ) {
    this.url = `http://localhost:${port}`;
    this.client = new ConnectClient(this.url);
    this.groupId = `cdcv-connect-${name}`;
    const dir = join(STACK_DIR, 'connect-workers', name);
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(STACK_DIR, 'logs'), { recursive: true });
    this.props = join(dir, 'worker.properties');
    this.log = join(STACK_DIR, 'logs', `connect-worker-${name}.log`);
  }

  /** Starts a worker and waits until its REST API serves the Debezium PostgreSQL plugin. */
  static async start(opts: ConnectWorkerOptions = {}): Promise<ConnectWorker> {
    for (const d of ['lib', 'plugins']) {
      if (!existsSync(join(STACK_DIR, d))) throw new Error(`${join(STACK_DIR, d)} missing: run npm run stack:up, or set CDCV_STACK_DIR to the stack folder`);
    }
    const worker = new ConnectWorker(opts.name ?? randomUUID().slice(0, 8), await freePort(), opts);
    worker.writeProperties();
    await worker.launch();
    return worker;
  }

  private writeProperties(): void {
    const brokers = loadEnv().CDCV_KAFKA_BROKERS;
    const lines = [
      '# Written by test/support/connect-worker.ts (a test-owned worker; see scripts/stack/up.sh for the shared one).',
      `bootstrap.servers=${brokers}`,
      `group.id=${this.groupId}`,
      'key.converter=org.apache.kafka.connect.json.JsonConverter',
      'value.converter=org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable=true',
      'value.converter.schemas.enable=true',
      `config.storage.topic=${this.groupId}-configs`,
      `offset.storage.topic=${this.groupId}-offsets`,
      `status.storage.topic=${this.groupId}-status`,
      'config.storage.replication.factor=1',
      'offset.storage.replication.factor=1',
      'status.storage.replication.factor=1',
      'offset.storage.partitions=1',
      'status.storage.partitions=1',
      `offset.flush.interval.ms=${this.opts.offsetFlushIntervalMs ?? 1000}`,
      ...(this.opts.producerMetadataMaxAgeMs === undefined ? [] : [`producer.metadata.max.age.ms=${this.opts.producerMetadataMaxAgeMs}`]),
      // A restarted worker gets its connector back at once instead of after the 5 min grace of a departed member.
      'scheduled.rebalance.max.delay.ms=0',
      'session.timeout.ms=6000',
      'heartbeat.interval.ms=2000',
      `listeners=http://127.0.0.1:${this.port}`,
      'rest.advertised.host.name=localhost',
      `rest.advertised.port=${this.port}`,
      `plugin.path=${join(STACK_DIR, 'plugins')}`,
      `plugin.discovery=${process.env.CDCV_CONNECT_PLUGIN_DISCOVERY ?? 'service_load'}`,
      'topic.creation.enable=true',
    ];
    writeFileSync(this.props, `${lines.join('\n')}\n`);
  }

  private async launch(): Promise<void> {
    const fd = openSync(this.log, 'a');
    try {
      this.child = spawn(
        'java',
        [
          '-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
          `-Dlog4j.configuration=file:${join(REPO, 'scripts/stack/log4j.properties')}`,
          '-cp', `${join(STACK_DIR, 'lib')}/*`,
          'org.apache.kafka.connect.cli.ConnectDistributed', this.props,
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    const child = this.child;
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Kafka Connect worker ${this.name} exited during start-up (${child.exitCode}); see ${this.log}`);
      const plugins = await fetch(`${this.url}/connector-plugins`).then((r) => (r.ok ? r.text() : ''), () => '');
      if (plugins.includes('io.debezium.connector.postgresql.PostgresConnector')) return;
      if (Date.now() > deadline) throw new Error(`Kafka Connect worker ${this.name} not ready at ${this.url}; see ${this.log}`);
      await sleep(250);
    }
  }

  /** The JVM's pid (undefined while stopped). */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  private async signal(sig: NodeJS.Signals, waitMs: number): Promise<boolean> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return true;
    let timer: NodeJS.Timeout | undefined;
    const gone = new Promise<boolean>((r) => {
      child.once('exit', () => r(true));
      timer = setTimeout(() => r(false), waitMs);
    });
    child.kill(sig);
    return gone.finally(() => clearTimeout(timer));
  }

  /** SIGKILL: no offset flush, no leaving the group (what a crash or an OOM kill does). */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL', 30_000);
    this.kills += 1;
  }

  /** Starts the same worker again (same port, group and storage topics) and waits until it is ready. */
  async restart(): Promise<void> {
    await this.signal('SIGKILL', 30_000);
    await this.launch();
  }

  /**
   * Stops the worker (SIGTERM, SIGKILL after 20 s) and deletes its storage
   * topics and group: nothing of it is left. Its connectors should be deleted
   * before (their replication slots stay active while they run).
   */
  async stop(): Promise<void> {
    if (!(await this.signal('SIGTERM', 20_000))) await this.signal('SIGKILL', 10_000);
    const admin = new Kafka({ brokers: loadEnv().CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${this.groupId}-`));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
      await admin.deleteGroups([this.groupId]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  }
}
