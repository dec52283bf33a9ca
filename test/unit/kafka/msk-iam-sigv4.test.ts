/**
 * AWS MSK IAM (kafkaSaslMechanism=aws) cannot be exercised against AWS here,
 * so its signing is tested against AWS's published Signature Version 4 test
 * suite ("aws-sig-v4-test-suite": credentials AKIDEXAMPLE /
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1,
 * service "service"), using the signer the mechanism package
 * (@jm18457/kafkajs-msk-iam-authentication-mechanism) itself loads:
 * @smithy/signature-v4 with @aws-crypto/sha256-js, configured as the package
 * configures it. Then the package's authentication payload is checked against
 * that signer's presigned form of the same request (what AWS's
 * aws-msk-iam-auth library sends: GET / with Action=kafka-cluster:Connect).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mock, test } from 'node:test';
import { createMechanism } from '@jm18457/kafkajs-msk-iam-authentication-mechanism';
import type { AuthenticationProviderArgs } from 'kafkajs';

interface HttpRequestLike {
  method: string;
  protocol: string;
  hostname: string;
  path: string;
  headers: Record<string, string>;
  query: Record<string, string>;
}
interface Signer {
  sign(stringToSign: string, options: { signingDate: Date }): Promise<string>;
  sign(request: HttpRequestLike, options: { signingDate: Date }): Promise<HttpRequestLike>;
  presign(request: HttpRequestLike, options: { signingDate: Date; expiresIn: number }): Promise<HttpRequestLike>;
}

// The signer as the mechanism package resolves it (its own dependencies, not ours).
const fromPackage = createRequire(createRequire(import.meta.url).resolve('@jm18457/kafkajs-msk-iam-authentication-mechanism'));
const { SignatureV4 } = fromPackage('@smithy/signature-v4') as { SignatureV4: new (o: object) => Signer };
const { Sha256 } = fromPackage('@aws-crypto/sha256-js') as { Sha256: unknown };

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const signingDate = new Date('2015-08-30T12:36:00Z');
/** Configured as the package's CreatePayload configures it (but for the test suite's service). */
const signer = (service: string, region = 'us-east-1'): Signer => new SignatureV4({ credentials, region, service, applyChecksum: false, uriEscapePath: true, sha256: Sha256 });
const vanilla = (query: Record<string, string> = {}): HttpRequestLike => ({ method: 'GET', protocol: 'https:', hostname: 'example.amazonaws.com', path: '/', headers: { host: 'example.amazonaws.com' }, query });

test('get-vanilla: the published string to sign, signature and Authorization header', async () => {
  const canonical = 'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  assert.equal(createHash('sha256').update(canonical).digest('hex'), 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
  const stringToSign = 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63';
  // What the mechanism package calls: SignatureV4.sign(stringToSign, { signingDate }).
  assert.equal(await signer('service').sign(stringToSign, { signingDate }), '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  const signed = await signer('service').sign(vanilla(), { signingDate });
  assert.equal(
    signed.headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  );
});

test('get-vanilla-query-order-key-case: the query is sorted before signing', async () => {
  const signed = await signer('service').sign(vanilla({ Param2: 'value2', Param1: 'value1' }), { signingDate });
  assert.match(signed.headers.authorization ?? '', /, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500$/);
});

test("the mechanism's authentication payload is the signer's presigned GET / Action=kafka-cluster:Connect for the broker", async (t) => {
  mock.timers.enable({ apis: ['Date'], now: signingDate.getTime() });
  t.after(() => mock.timers.reset());
  const host = 'b-1.cdcv.abc123.c2.kafka.us-east-1.amazonaws.com';
  let sent: Record<string, string> | undefined;
  const quiet = { info: () => undefined, error: () => undefined, warn: () => undefined, debug: () => undefined, namespace: () => quiet, setLogLevel: () => undefined };
  const args = {
    host,
    port: 9098,
    logger: quiet,
    saslAuthenticate: async ({ request }: { request: { encode: () => Buffer | Promise<Buffer> } }) => {
      // SaslAuthenticate auth bytes: an int32 length, then the JSON payload.
      sent = JSON.parse((await request.encode()).subarray(4).toString('utf8')) as Record<string, string>;
      return { version: '2020_10_22' };
    },
  } as unknown as AuthenticationProviderArgs;
  await createMechanism({ region: 'us-east-1', credentials }).authenticationProvider(args).authenticate();
  assert.ok(sent, 'the mechanism sent a payload');
  const presigned = await signer('kafka-cluster').presign({ method: 'GET', protocol: 'https:', hostname: host, path: '/', headers: { host }, query: { Action: 'kafka-cluster:Connect' } }, { signingDate, expiresIn: 900 });
  assert.deepEqual(
    { ...sent, 'x-amz-security-token': undefined },
    {
      version: '2020_10_22',
      'user-agent': 'MSK_IAM',
      host,
      action: 'kafka-cluster:Connect',
      'x-amz-credential': 'AKIDEXAMPLE/20150830/us-east-1/kafka-cluster/aws4_request',
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-date': '20150830T123600Z',
      'x-amz-security-token': undefined,
      'x-amz-signedheaders': 'host',
      'x-amz-expires': '900',
      'x-amz-signature': presigned.query['X-Amz-Signature'],
    },
  );
  assert.equal(presigned.query['X-Amz-Credential'], sent['x-amz-credential']);
  assert.match(sent['x-amz-signature'] ?? '', /^[0-9a-f]{64}$/);
});
