/** Which applicationIds `run` registers as a version of their topology. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionOfApplication } from '../../../src/ops/register-run.ts';

test('versionOfApplication: <topology>-<version> with a valid version name, else null', () => {
  assert.equal(versionOfApplication('customer-cache', 'customer-cache-v1'), 'v1', 'the chart default');
  assert.equal(versionOfApplication('customer-cache', 'customer-cache-v2.1_b'), 'v2.1_b');
  assert.equal(versionOfApplication('customer-cache', 'customer-cache'), null, 'the bare topology name is no version');
  assert.equal(versionOfApplication('customer-cache', 'customer-cache-'), null, 'an empty version');
  assert.equal(versionOfApplication('customer-cache', 'customer-cache-v-2'), null, 'a dash is not allowed in a version');
  assert.equal(versionOfApplication('customer', 'customer-cache-v1'), null, 'the topology customer does not own customer-cache-v1 (cache-v1 is no version)');
  assert.equal(versionOfApplication('order-search', 'customer-cache-v1'), null);
});
