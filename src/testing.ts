/**
 * `cdc-views/testing`: unit-testing a topology without Kafka, in the spirit of
 * Kafka Streams' `kafka-streams-test-utils`.
 *
 * ```ts
 * import { TopologyTestDriver } from 'cdc-views/testing';
 * import topology from './order-search.ts';
 *
 * const driver = await TopologyTestDriver.create(topology);
 * await driver.upsert('public.customers', { id: 1 }, { id: 1, name: 'Ada' });
 * driver.document('order-search', { id: 7 });
 * await driver.close();
 * ```
 *
 * The driver runs the production engine against a real Redis: a private
 * `redis-server` from the PATH (or `CDCV_TEST_REDIS_URL`).
 */
export { TopologyTestDriver, type TopologyTestDriverOptions, type DriverOutput } from './topology/test-driver.ts';
export { TEST_REDIS_ENV } from './topology/test-redis.ts';
