/**
 * The lake's object store as the configuration describes it (settings
 * `lakeUrl`, `lakeS3*`: src/config/settings-lake.ts).
 */
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { Secret } from '../secrets.ts';
import type { ObjectStore } from './object-store.ts';
import { openObjectStore } from './open-store.ts';

/** Bound of one object store call, ms: slice and data files are whole-object puts of up to tens of MB. */
export const LAKE_REQUEST_TIMEOUT_MS = 60_000;

/**
 * Opens the lake's object store.
 * @throws {ConfigError} naming the setting: an unsupported URL, or an access key id without its secret (or the reverse)
 */
export function lakeStoreOf(config: Pick<Config, 'lakeUrl' | 'lakeS3Endpoint' | 'lakeS3Region' | 'lakeS3AccessKeyId' | 'lakeS3SecretAccessKey' | 'lakeS3SecretAccessKeyFile'>): ObjectStore {
  const secret = Secret.of('lakeS3SecretAccessKey', config.lakeS3SecretAccessKey, config.lakeS3SecretAccessKeyFile);
  if ((config.lakeS3AccessKeyId === undefined) !== (secret === undefined)) {
    throw new ConfigError(config.lakeS3AccessKeyId === undefined ? 'lakeS3AccessKeyId' : 'lakeS3SecretAccessKey', 'give both lakeS3AccessKeyId and lakeS3SecretAccessKey (or its file), or neither for the AWS default credential chain');
  }
  return openObjectStore(config.lakeUrl, {
    ...(config.lakeS3Endpoint === undefined ? {} : { endpoint: config.lakeS3Endpoint }),
    region: config.lakeS3Region,
    ...(config.lakeS3AccessKeyId === undefined || secret === undefined ? {} : { credentials: { accessKeyId: config.lakeS3AccessKeyId, secretAccessKey: secret.reveal() } }),
    requestTimeoutMs: LAKE_REQUEST_TIMEOUT_MS,
  });
}
