/**
 * Settings of the lake sink (docs/lake.md): where slice files and lake tables
 * live, the S3 client's endpoint and credentials, and the slice interval.
 * Part of src/config.ts `SETTINGS`; the order here is the order of `--help`
 * and docs/configuration.md.
 */
import { z } from 'zod';
import { setting, url } from './spec.ts';

export const LAKE_SETTINGS = {
  lakeUrl: setting({
    env: 'CDCV_LAKE_URL',
    flag: '--lake-url <url>',
    schema: z
      .string()
      .trim()
      .regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.+)$/, 'must be s3://bucket[/prefix] or file:///absolute/path')
      .default('s3://cdcv-lake/lake'),
    doc: 'where the lake keeps slice files (`<url>/slices/<table>/…`) and lake tables (`<url>/tables/<table>/`): s3://bucket/prefix or file:///path',
    fix: 's3://bucket/prefix (through the S3 API) or file:///absolute/folder',
  }),
  lakeS3Endpoint: setting({
    env: 'CDCV_LAKE_S3_ENDPOINT',
    flag: '--lake-s3-endpoint <url>',
    schema: url(/^https?:\/\//, 'http://').optional(),
    doc: 'S3 API endpoint of an S3-compatible store (path-style addressing); unset: AWS S3 of lakeS3Region',
    fix: 'an http(s) URL, e.g. http://127.0.0.1:9000',
  }),
  lakeS3Region: setting({
    env: 'CDCV_LAKE_S3_REGION',
    flag: '--lake-s3-region <region>',
    schema: z.string().trim().min(1).default('us-east-1'),
    doc: 'S3 region of the lake bucket',
    fix: 'an AWS region name, e.g. eu-west-1',
  }),
  lakeS3AccessKeyId: setting({
    env: 'CDCV_LAKE_S3_ACCESS_KEY_ID',
    flag: '--lake-s3-access-key-id <id>',
    schema: z.string().trim().min(1).optional(),
    doc: "S3 access key id (with lakeS3SecretAccessKey); unset: the AWS SDK's default credential chain (environment, web identity, instance role)",
    fix: 'an access key id, e.g. AKIA…',
  }),
  lakeS3SecretAccessKey: setting({
    env: 'CDCV_LAKE_S3_SECRET_ACCESS_KEY',
    flag: '--lake-s3-secret-access-key <key>',
    schema: z.string().min(1).optional(),
    doc: 'S3 secret access key of lakeS3AccessKeyId (prefer lakeS3SecretAccessKeyFile)',
    fix: 'the secret key; or give lakeS3SecretAccessKeyFile',
    secret: true,
  }),
  lakeS3SecretAccessKeyFile: setting({
    env: 'CDCV_LAKE_S3_SECRET_ACCESS_KEY_FILE',
    flag: '--lake-s3-secret-access-key-file <path>',
    schema: z.string().min(1).optional(),
    doc: 'file holding the S3 secret access key, re-read when it changes',
    fix: 'a readable file path',
  }),
  lakeSliceIntervalMs: setting({
    env: 'CDCV_LAKE_SLICE_INTERVAL_MS',
    flag: '--lake-slice-interval-ms <ms>',
    schema: z.coerce.number().int().min(1000).default(60_000),
    doc: 'length of a time slice, ms: the slice writer closes one file per stream partition per interval',
    fix: 'an integer ≥ 1000 (ms), e.g. 60000 for a minute',
  }),
} as const;
