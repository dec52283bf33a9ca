/**
 * The one factory of KafkaJS clients in cdc-views ({@link createKafkaClient}):
 * every command and the runtime get their `Kafka` here, with the TLS and SASL
 * options of the settings (./security.ts). Its admin, consumer and producer
 * turn Kafka's refusals into one line naming the fix (./errors.ts): an
 * authorization failure names the ACL the call needed.
 */
import kafkajs, { type Admin, type Consumer, type ConsumerConfig, type KafkaConfig, type Producer, type ProducerConfig } from 'kafkajs';
import { explainKafkaError, type KafkaAccess } from './errors.ts';
import type { KafkaSecurity } from './security.ts';

// kafkajs is CommonJS: its classes and enums are reachable through the default export.
const { Kafka, ConfigResourceTypes } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;

const topic = (name: string, operation: KafkaAccess['operation']): KafkaAccess => ({ resource: 'Topic', name, operation });
const group = (name: string, operation: KafkaAccess['operation']): KafkaAccess => ({ resource: 'Group', name, operation });
const cluster = (operation: KafkaAccess['operation']): KafkaAccess => ({ resource: 'Cluster', name: 'kafka-cluster', operation });

type Args = readonly unknown[];

/** How long setOffsets/resetOffsets may take (a group join and a commit), ms. */
const OFFSETS_TIMEOUT_MS = 30_000;

/** Rejects with `error()` when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
const arg = <T>(args: Args): T => (args[0] ?? {}) as T;

/** The permissions each admin call needs (Kafka's authorization of the requests it sends). */
const ADMIN_NEEDS: Record<string, (args: Args) => KafkaAccess[]> = {
  fetchTopicMetadata: (a) => (arg<{ topics?: string[] }>(a).topics ?? []).map((t) => topic(t, 'Describe')),
  fetchTopicOffsets: (a) => [topic(String(a[0]), 'Describe')],
  fetchTopicOffsetsByTimestamp: (a) => [topic(String(a[0]), 'Describe')],
  fetchOffsets: (a) => [group(arg<{ groupId: string }>(a).groupId, 'Describe'), ...(arg<{ topics?: string[] }>(a).topics ?? []).map((t) => topic(t, 'Describe'))],
  setOffsets: (a) => [group(arg<{ groupId: string }>(a).groupId, 'Read'), topic(arg<{ topic: string }>(a).topic, 'Read')],
  resetOffsets: (a) => [group(arg<{ groupId: string }>(a).groupId, 'Read'), topic(arg<{ topic: string }>(a).topic, 'Read')],
  describeGroups: (a) => ((a[0] as string[] | undefined) ?? []).map((g) => group(g, 'Describe')),
  deleteGroups: (a) => ((a[0] as string[] | undefined) ?? []).map((g) => group(g, 'Delete')),
  createTopics: (a) => arg<{ topics?: { topic: string }[] }>(a).topics?.map((t) => topic(t.topic, 'Create')) ?? [],
  deleteTopics: (a) => (arg<{ topics?: string[] }>(a).topics ?? []).map((t) => topic(t, 'Delete')),
  deleteTopicRecords: (a) => [topic(arg<{ topic: string }>(a).topic, 'Delete')],
  createPartitions: (a) => (arg<{ topicPartitions?: { topic: string }[] }>(a).topicPartitions ?? []).map((t) => topic(t.topic, 'Alter')),
  describeConfigs: (a) => (arg<{ resources?: { type: number; name: string }[] }>(a).resources ?? []).filter((r) => r.type === Number(ConfigResourceTypes.TOPIC)).map((r) => topic(r.name, 'DescribeConfigs')),
  listGroups: () => [cluster('Describe')],
  connect: () => [],
  listTopics: () => [],
  describeCluster: () => [],
};

/** Wraps the async methods of a client so that their refusals name the fix; `needs` gives what each call needs. */
function guard<T extends object>(target: T, kind: string, needs: (method: string, args: Args) => KafkaAccess[] | undefined, explain: (err: unknown, call: string, needs: KafkaAccess[]) => unknown): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      const method = value as (...a: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const list = needs(prop, args);
        const result = method.apply(t, args);
        if (list === undefined || !(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          throw explain(err, `${kind}.${prop}`, list);
        });
      };
    },
  });
}

/** Options of {@link createKafkaClient}: KafkaJS's client options but `ssl` and `sasl`, which come from `security`. */
export interface KafkaClientOptions extends Omit<KafkaConfig, 'ssl' | 'sasl' | 'brokers'> {
  brokers: readonly string[];
  /** TLS and SASL from the settings (./security.ts `kafkaSecurity`). @defaultValue none (plaintext) */
  security?: KafkaSecurity;
}

/** No TLS, no SASL: the plaintext listener of a development stack. */
const PLAINTEXT: KafkaSecurity = { ssl: undefined, sasl: undefined, mechanism: undefined, principal: undefined, secrets: [] };

/**
 * A KafkaJS client with the TLS and SASL options of `security`, whose admin,
 * consumer and producer turn refusals into a {@link import('../errors.ts').CdcViewsError}
 * naming the fix (./errors.ts `explainKafkaError`): the missing ACL, the SASL
 * settings to check, the certificate problem. Other errors pass unchanged.
 */
export function createKafkaClient(options: KafkaClientOptions): KafkaClient {
  const { security = PLAINTEXT, brokers, ...rest } = options;
  const explain = (err: unknown, call: string, needs: KafkaAccess[]): unknown => explainKafkaError(err, { call, needs, brokers, security }) ?? err;

  class SecuredKafka extends Kafka {
    override admin(config?: Parameters<KafkaClient['admin']>[0]): Admin {
      const admin = super.admin(config);
      // KafkaJS's setOffsets/resetOffsets join the group with an internal consumer whose crash
      // (GROUP_AUTHORIZATION_FAILED without Read on the group) nobody hears: the call never ends. Bound it.
      for (const m of ['setOffsets', 'resetOffsets'] as const) {
        const original = admin[m].bind(admin) as (o: { groupId: string; topic: string }) => Promise<void>;
        Object.defineProperty(admin, m, {
          value: (o: { groupId: string; topic: string }) =>
            within(original(o), OFFSETS_TIMEOUT_MS, () => Object.assign(new Error(`admin.${m} of group ${o.groupId} did not finish within ${OFFSETS_TIMEOUT_MS / 1000} s`), { lostGroupJoin: true })),
        });
      }
      return guard(admin, 'admin', (m, a) => ADMIN_NEEDS[m]?.(a), explain);
    }

    override consumer(config: ConsumerConfig): Consumer {
      const consumer = super.consumer(config);
      const topics: string[] = [];
      const reads = (): KafkaAccess[] => [group(config.groupId, 'Read'), ...topics.map((t) => topic(t, 'Read'))];
      const needs = (m: string, a: Args): KafkaAccess[] | undefined => {
        if (m === 'subscribe') {
          const s = arg<{ topics?: (string | RegExp)[]; topic?: string | RegExp }>(a);
          for (const t of s.topics ?? (s.topic === undefined ? [] : [s.topic])) if (typeof t === 'string') topics.push(t);
          return topics.map((t) => topic(t, 'Describe'));
        }
        return m === 'run' || m === 'commitOffsets' || m === 'connect' ? reads() : undefined;
      };
      const guarded = guard(consumer, 'consumer', needs, explain);
      // A crash of the running consumer (its group join, fetch, commit) carries the same explanation.
      const on = consumer.on.bind(consumer);
      Object.defineProperty(guarded, 'on', {
        value: ((event: string, listener: (e: { payload: { error?: unknown } }) => void) =>
          on(event as typeof consumer.events.CRASH, (e) => {
            const error: unknown = e.payload.error;
            listener(error === undefined ? e : { ...e, payload: { ...e.payload, error: explain(error, 'consumer.run', reads()) } });
          })),
      });
      return guarded;
    }

    override producer(config?: ProducerConfig): Producer {
      const needs = (m: string, a: Args): KafkaAccess[] | undefined => {
        if (m === 'send') return [topic(arg<{ topic: string }>(a).topic, 'Write'), cluster('IdempotentWrite')];
        if (m === 'sendBatch') return [...(arg<{ topicMessages?: { topic: string }[] }>(a).topicMessages ?? []).map((t) => topic(t.topic, 'Write')), cluster('IdempotentWrite')];
        // An idempotent producer asks for a producer id at connect (InitProducerId).
        return m === 'connect' ? (config?.idempotent ? [cluster('IdempotentWrite')] : []) : undefined;
      };
      return guard(super.producer(config), 'producer', needs, explain);
    }
  }

  return new SecuredKafka({ ...rest, brokers: [...brokers], ...(security.ssl ? { ssl: security.ssl } : {}), ...(security.sasl ? { sasl: security.sasl } : {}) });
}
