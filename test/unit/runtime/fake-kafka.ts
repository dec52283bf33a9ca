/**
 * Stands in for the KafkaJS client in the application's unit tests: topics
 * and their offsets, and a record of every call the application makes (admin
 * requests, client configs, subscriptions, seeks), with `batch()` handing it
 * a fetched batch and `emit()` a consumer event.
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { RecordingProducer } from './helpers.ts';

type Listener = (event: { payload: Record<string, unknown> }) => void;

/** The topic `batch()` hands batches of unless told otherwise. */
export const FAKE_BATCH_TOPIC = 'demo.public.customers';

export class FakeKafka {
  readonly calls: string[] = [];
  /** Topics the application created (from its createTopics requests). */
  readonly created: { topic: string; numPartitions?: number }[] = [];
  readonly createRequests: unknown[] = [];
  /** Topic configs the application asked for: `<topic> <config names>`. */
  readonly described: string[] = [];
  readonly describeRequests: unknown[] = [];
  readonly seeks: { topic: string; partition: number; offset: string }[] = [];
  readonly listeners = new Map<string, Listener>();
  readonly dlq = new RecordingProducer();
  subscribed: unknown;
  consumerConfig: Record<string, unknown> | undefined;
  producerConfig: Record<string, unknown> | undefined;
  runConfig: { eachBatch: (payload: EachBatchPayload) => Promise<void>; [option: string]: unknown } | undefined;
  /** What describeConfigs answers for max.message.bytes (undefined: no such entry). @defaultValue '1048588' */
  maxMessageBytes: string | undefined = '1048588';

  constructor(
    public topics: string[],
    /** Per topic: partition → [low, high]. */
    public offsets: Record<string, Record<number, [number, number]>> = {},
  ) {}

  admin(): unknown {
    return {
      connect: () => this.call('admin.connect'),
      disconnect: () => this.call('admin.disconnect'),
      listTopics: () => Promise.resolve([...this.topics]),
      createTopics: (request: { topics: { topic: string; numPartitions?: number }[] }) => {
        this.createRequests.push(request);
        this.created.push(...request.topics);
        return Promise.resolve(true);
      },
      describeConfigs: (request: { resources: { name: string; configNames: string[] }[] }) => {
        this.describeRequests.push(request);
        this.described.push(...request.resources.map((r) => `${r.name} ${r.configNames.join(',')}`));
        const entries = [{ configName: 'retention.ms', configValue: '5' }, ...(this.maxMessageBytes === undefined ? [] : [{ configName: 'max.message.bytes', configValue: this.maxMessageBytes }])];
        return Promise.resolve({ resources: [{ configEntries: entries }] });
      },
      fetchTopicOffsets: (topic: string) =>
        Promise.resolve(Object.entries(this.offsets[topic] ?? {}).map(([p, [low, high]]) => ({ partition: Number(p), offset: String(high), high: String(high), low: String(low) }))),
    };
  }

  producer(config: Record<string, unknown>): unknown {
    this.producerConfig = config;
    return { connect: () => this.call('producer.connect'), disconnect: () => this.call('producer.disconnect'), send: this.dlq.send.bind(this.dlq) };
  }

  consumer(config: Record<string, unknown>): unknown {
    this.consumerConfig = config;
    return {
      events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' },
      on: (event: string, listener: Listener) => void this.listeners.set(event, listener),
      connect: () => this.call('consumer.connect'),
      disconnect: () => this.call('consumer.disconnect'),
      subscribe: (s: unknown) => ((this.subscribed = s), Promise.resolve()),
      run: (config: FakeKafka['runConfig']) => ((this.runConfig = config), Promise.resolve()),
      seek: (tp: { topic: string; partition: number; offset: string }) => void this.seeks.push(tp),
    };
  }

  emit(event: 'consumer.group_join' | 'consumer.crash', payload: Record<string, unknown>): void {
    this.listeners.get(event)!({ payload });
  }

  /** Hands a fetched batch of {@link FAKE_BATCH_TOPIC} to the application; returns the calls it made on the payload. */
  async batch(partition: number, messages: KafkaMessage[], state: { running?: boolean; stale?: boolean } = {}): Promise<string[]> {
    const log: string[] = [];
    const payload = {
      batch: { topic: FAKE_BATCH_TOPIC, partition, messages },
      resolveOffset: (offset: string) => void log.push(`resolve ${offset}`),
      heartbeat: () => (log.push('heartbeat'), Promise.resolve()),
      commitOffsetsIfNecessary: () => (log.push('commit'), Promise.resolve()),
      isRunning: () => state.running ?? true,
      isStale: () => state.stale ?? false,
    };
    await this.runConfig!.eachBatch(payload as unknown as EachBatchPayload);
    return log;
  }

  private call(name: string): Promise<void> {
    this.calls.push(name);
    return Promise.resolve();
  }
}
