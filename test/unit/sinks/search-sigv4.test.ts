/**
 * AWS SigV4 signing of search requests (opensearchAwsRegion), checked against
 * AWS's published signatures — it cannot be exercised against AWS here.
 *
 * 1. The client path: a client made by src/sinks/search-client.ts's factory
 *    (the official client's `AwsSigv4Signer`, credentials from a
 *    `getCredentials` as the default AWS chain would give them) sends a
 *    request to a loopback HTTP server started by the test, which records the
 *    `Authorization` header it received. The signer always signs
 *    `x-amz-content-sha256` (the SHA-256 of the body), so the vectors are
 *    those AWS publishes with that header: the Amazon S3 API Reference,
 *    "Signature Calculations for the Authorization Header (AWS Signature
 *    Version 4)", examples "GET Bucket Lifecycle" and "Get Bucket (List
 *    Objects)" (query strings), with the documentation's key
 *    AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, us-east-1. (Its "GET Object"
 *    example signs a Range header, which aws4 deliberately leaves unsigned.)
 * 2. The signer's engine (`aws4`, the very module instance the client's
 *    signer loads) against the aws-sig-v4-test-suite vectors get-vanilla,
 *    get-vanilla-query-order-key-case and post-vanilla (AKIDEXAMPLE,
 *    20150830T123600Z, us-east-1, service "service"), which sign only host
 *    and x-amz-date.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { loopbackHttp, type LoopbackHttp } from '../../support/net.ts';
import { createSearchClient, type SearchConnection } from '../../../src/sinks/search-client.ts';

let server: LoopbackHttp;
let port = 0;
const received: Record<string, string | string[] | undefined>[] = [];

before(async () => {
  server = await loopbackHttp((req, res) => {
    received.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  port = Number(new URL(server.url).port);
});
after(() => server.close());

const S3_DOC = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A signing client of the factory whose requests reach the loopback server. */
function signingClient(service: string, region = 'us-east-1'): ReturnType<typeof createSearchClient> {
  const conn: SearchConnection = {
    url: `http://127.0.0.1:${port}`,
    // The S3 documentation's vectors are signed for service "s3"; the setting allows es | aoss, the signer takes any name.
    aws: { region, service: service as 'es', getCredentials: () => Promise.resolve(S3_DOC) },
  };
  return createSearchClient(conn, { requestTimeout: 2000, maxRetries: 0 });
}

/** Sends one request through the client as S3's example host at the example's time; returns the Authorization received. */
async function signedAuthorization(path: string, querystring: string): Promise<string> {
  const client = signingClient('s3');
  try {
    await client.transport.request({ method: 'GET', path, querystring, body: '' }, { headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-date': '20130524T000000Z' } });
  } finally {
    await client.close();
  }
  const last = received.at(-1)!;
  assert.equal(last['x-amz-content-sha256'], EMPTY_SHA256, 'the signer hashed the empty body');
  return String(last.authorization);
}

test('the client path signs S3 "GET Bucket Lifecycle" and "List Objects" (query strings) exactly as AWS publishes them', async () => {
  assert.equal(
    await signedAuthorization('/', 'lifecycle'),
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
  );
  assert.equal(
    await signedAuthorization('/', 'max-keys=2&prefix=J'),
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  );
});

test('a search request is signed for the configured region and service (es, aoss), with the credentials of getCredentials', async () => {
  for (const service of ['es', 'aoss'] as const) {
    const client = signingClient(service, 'eu-west-1');
    try {
      await client.info();
    } finally {
      await client.close();
    }
    const auth = String(received.at(-1)!.authorization);
    assert.match(auth, new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/\\d{8}/eu-west-1/${service}/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$`));
  }
});

interface Aws4 {
  sign(request: { host: string; method: string; path: string; service: string; region: string; headers: Record<string, string>; body?: string }, credentials: { accessKeyId: string; secretAccessKey: string }): { headers: Record<string, string> };
}

test("the signer's engine (aws4, as the client's signer loads it) reproduces the aws-sig-v4-test-suite vectors", () => {
  // Resolved from the client's signer module, so it is the instance that module uses.
  const fromSigner = createRequire(createRequire(import.meta.url).resolve('@opensearch-project/opensearch/aws'));
  const aws4 = fromSigner('aws4') as Aws4;
  const suite = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const sign = (method: string, path: string): string =>
    aws4.sign({ host: 'example.amazonaws.com', method, path, service: 'service', region: 'us-east-1', headers: { 'X-Amz-Date': '20150830T123600Z' } }, suite).headers.Authorization!;
  const scope = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=';
  assert.equal(sign('GET', '/'), `${scope}5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31`, 'get-vanilla');
  assert.equal(sign('GET', '/?Param2=value2&Param1=value1'), `${scope}b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500`, 'get-vanilla-query-order-key-case');
  assert.equal(sign('POST', '/'), `${scope}5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b`, 'post-vanilla');
});

test('without getCredentials the default AWS chain is used (@aws-sdk/credential-provider-node: here its environment provider)', async () => {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMTHEENVIRONMENT';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-the-environment';
  const client = createSearchClient({ url: `http://127.0.0.1:${port}`, aws: { region: 'eu-central-1', service: 'es' } }, { requestTimeout: 5000, maxRetries: 0 });
  try {
    await client.info();
  } finally {
    await client.close();
    for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.match(String(received.at(-1)!.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDFROMTHEENVIRONMENT\/\d{8}\/eu-central-1\/es\/aws4_request, /);
});
