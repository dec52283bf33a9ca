/**
 * Kafka refusals as one line naming the fix (src/kafka/errors.ts): the
 * missing ACL (resource type, name, operation) and the kafka-acls.sh command;
 * a failed SASL login naming the settings, never the password.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { exitCodeOf } from '../../../src/cli/exit-codes.ts';
import { explainKafkaError } from '../../../src/kafka/errors.ts';
import { kafkaSecurity } from '../../../src/kafka/security.ts';
import { loadConfig } from '../../../src/config.ts';
import { restartable } from '../../../src/runtime/kafka-client.ts';

const { KafkaJSProtocolError, KafkaJSSASLAuthenticationError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = kafkajs;
// Its type declaration has no constructor arguments; the class takes a message.
const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
const protocolError = (type: string, code: number): Error => Object.assign(new KafkaJSProtocolError(`${type} message`), { type, code });
const security = kafkaSecurity(loadConfig({ env: { CDCV_KAFKA_SASL_MECHANISM: 'scram-sha-512', CDCV_KAFKA_SASL_USERNAME: 'app', CDCV_KAFKA_SASL_PASSWORD: 'canary-password-77' } }).config);
const ctx = { brokers: ['kafka:9094'], security };

test('an authorization failure names the missing ACL, the principal and the kafka-acls.sh command; exit 3; not restarted', () => {
  const err = new KafkaJSNumberOfRetriesExceeded(protocolError('GROUP_AUTHORIZATION_FAILED', 30), { retryCount: 0, retryTime: 0 });
  const e = explainKafkaError(err, { ...ctx, call: 'admin.setOffsets', needs: [{ resource: 'Group', name: 'orders', operation: 'Read' }, { resource: 'Topic', name: 't1', operation: 'Read' }] });
  assert.equal(e?.code, 'KAFKA_ACL_AUTH_FAILED');
  assert.equal(
    e?.message,
    "Kafka refused admin.setOffsets (GROUP_AUTHORIZATION_FAILED): User:app lacks the ACL Group 'orders' Read; grant it: kafka-acls.sh --bootstrap-server kafka:9094 --add --allow-principal 'User:app' --operation Read --group 'orders' (docs/security.md lists every ACL cdc-views needs)",
  );
  assert.equal(exitCodeOf(e), 3);
  assert.equal(restartable(protocolError('TOPIC_AUTHORIZATION_FAILED', 29)), false);
  assert.equal(restartable(protocolError('NOT_COORDINATOR', 16)), true);

  const topic = explainKafkaError(protocolError('TOPIC_AUTHORIZATION_FAILED', 29), { ...ctx, call: 'admin.fetchTopicOffsets', needs: [{ resource: 'Topic', name: 'cdcv.x.dlq', operation: 'Describe' }] });
  assert.match(topic!.message, /lacks the ACL Topic 'cdcv\.x\.dlq' Describe; grant it: .* --operation Describe --topic 'cdcv\.x\.dlq'/);
  const prefixed = explainKafkaError(protocolError('GROUP_AUTHORIZATION_FAILED', 30), { ...ctx, call: 'consumer.run', needs: [{ resource: 'Group', name: 'cdcv-ops-peek-', operation: 'Read', pattern: 'prefixed' }] });
  assert.match(prefixed!.message, /Group prefix 'cdcv-ops-peek-' Read; grant it: .* --group 'cdcv-ops-peek-' --resource-pattern-type prefixed/);
});

test('a refused SASL login is one line naming the mechanism, the user and the settings, never the password', () => {
  const e = explainKafkaError(new SaslError('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'), { ...ctx, call: 'admin.connect', needs: [] });
  assert.equal(e?.code, 'KAFKA_SASL_AUTH_FAILED');
  assert.ok(e);
  assert.match(e.message, /^Kafka at kafka:9094 refused the SASL SCRAM-SHA-512 login as User:app \(SASL SCRAM SHA512 authentication failed: .*\); check kafkaSaslUsername and kafkaSaslPassword \(CDCV_KAFKA_SASL_PASSWORD, or the file CDCV_KAFKA_SASL_PASSWORD_FILE names\)/);
  assert.ok(!e.message.includes('\n'));
  assert.equal(exitCodeOf(e), 3);
  // A server message echoing the password is redacted.
  const echoed = explainKafkaError(new SaslError('bad password canary-password-77'), { ...ctx, call: 'admin.connect', needs: [] });
  assert.ok(!echoed!.message.includes('canary-password-77'), echoed!.message);
});

test('TLS failures name the certificate problem and the setting; other errors are left alone', () => {
  const name = Object.assign(new KafkaJSConnectionError("Connection error: Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  assert.match(explainKafkaError(name, { ...ctx, call: 'admin.connect', needs: [] })!.message, /does not name the host connected to \(Hostname\/IP does not match .*\); connect through a name the certificate lists, or set CDCV_KAFKA_SSL_VERIFY_HOSTNAME=false \(the chain is still verified\)/);
  const chain = Object.assign(new KafkaJSConnectionError('Connection error: self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  assert.match(explainKafkaError(chain, { ...ctx, call: 'admin.connect', needs: [] })!.message, /is not trusted \(SELF_SIGNED_CERT_IN_CHAIN: .*\); set CDCV_KAFKA_SSL_CA_FILE/);
  assert.equal(explainKafkaError(protocolError('NOT_COORDINATOR', 16), { ...ctx, call: 'x', needs: [] }), undefined);
});

test('"Failed to find group coordinator" of a secured client is the group denial KafkaJS lost; of a plaintext one it is left alone', () => {
  const lost = new (kafkajs.KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('Failed to find group coordinator');
  const needs = [{ resource: 'Group' as const, name: 'orders', operation: 'Describe' as const }];
  const e = explainKafkaError(lost, { ...ctx, call: 'admin.describeGroups', needs });
  assert.match(e?.message ?? '', /^Kafka refused admin\.describeGroups \(GROUP_AUTHORIZATION_FAILED to FindCoordinator, which KafkaJS reports as "Failed to find group coordinator"\): User:app lacks the ACL Group 'orders' Describe; grant it: /);
  const plaintext = kafkaSecurity(loadConfig({ env: {} }).config);
  assert.equal(explainKafkaError(lost, { ...ctx, security: plaintext, call: 'admin.describeGroups', needs }), undefined);
});
