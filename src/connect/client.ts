/**
 * A small client of the Kafka Connect REST API (Apache Kafka "Kafka Connect
 * REST Interface"): register (PUT /connectors/<name>/config, which creates or
 * updates), status, delete.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config.ts';
import { CdcViewsError } from '../errors.ts';
import { authorizationHeader, credentialsOf, displayUrl, type HttpCredentials } from '../http-auth.ts';

/** A connector definition as kept in the repo (`schemas/connectors/*.json`). */
export interface ConnectorDefinition {
  name: string;
  config: Record<string, string>;
}

export interface ConnectorStatus {
  name: string;
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

/**
 * Reads a connector file and applies overrides (`key=value` settings; `name`
 * renames the connector).
 */
export async function loadConnector(file: string, overrides: Record<string, string> = {}): Promise<ConnectorDefinition> {
  const def = JSON.parse(await readFile(file, 'utf8')) as ConnectorDefinition;
  const { name, ...config } = overrides;
  return { name: name ?? def.name, config: { ...def.config, ...config } };
}

/**
 * The Connect REST URL (without user info) and basic-auth credentials of a
 * configuration: `connectUsername` + `connectPassword` (or its file, re-read
 * at each request), or the URL's user info.
 * @throws {ConfigError} when a password lacks its user or the reverse, or credentials are in the URL and the settings
 */
export function connectTarget(cfg: Pick<Config, 'connectUrl' | 'connectUsername' | 'connectPassword' | 'connectPasswordFile'>): { url: string; credentials?: HttpCredentials } {
  return credentialsOf({ url: ['connectUrl', cfg.connectUrl], username: ['connectUsername', cfg.connectUsername], password: ['connectPassword', cfg.connectPassword, cfg.connectPasswordFile] });
}

export class ConnectClient {
  /** The REST API's URL without user info. */
  readonly url: string;
  private readonly credentials: HttpCredentials | undefined;

  /**
   * @param target the REST URL (user info in it works as basic auth), or {@link connectTarget}'s result
   * @param timeoutMs longest wait for one request, ms @defaultValue 10000
   */
  constructor(
    target: string | { url: string; credentials?: HttpCredentials },
    private readonly timeoutMs = 10_000,
  ) {
    const t = typeof target === 'string' ? credentialsOf({ url: ['connectUrl', target] }) : target;
    this.url = t.url.replace(/\/$/, '');
    this.credentials = t.credentials;
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response;
    // The URL without its credentials: messages reach logs and terminals.
    const where = displayUrl(this.url);
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.credentials ? { authorization: authorizationHeader(this.credentials) } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new CdcViewsError('CONNECT_UNREACHABLE', `Kafka Connect does not answer at ${where} within ${this.timeoutMs} ms; start the local stack with \`npm run stack:up\` or set CDCV_CONNECT_URL`, { cause: err, retriable: true });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      const why = res.status === 401 ? 'refuses the credentials (401): set connectUsername and connectPassword (or connectPasswordFile)' : 'denies the user (403)';
      throw new CdcViewsError('CONNECT_AUTH_FAILED', `Kafka Connect at ${where} ${why}`);
    }
    return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  /** Creates or updates a connector. @throws {CdcViewsError} CONNECT_REJECTED with Connect's message. */
  async register(def: ConnectorDefinition): Promise<void> {
    const { status, json } = await this.request('PUT', `/connectors/${encodeURIComponent(def.name)}/config`, def.config);
    if (status >= 300) throw new CdcViewsError('CONNECT_REJECTED', `Kafka Connect refused connector ${def.name} (HTTP ${status}): ${JSON.stringify(json)}`);
  }

  /** A connector's configuration (secrets as Connect returns them); null when it does not exist. */
  async config(name: string): Promise<Record<string, string> | null> {
    const { status, json } = await this.request('GET', `/connectors/${encodeURIComponent(name)}/config`);
    if (status === 404) return null;
    if (status >= 300) throw new CdcViewsError('CONNECT_ERROR', `config of ${name}: HTTP ${status} ${JSON.stringify(json)}`);
    return json as Record<string, string>;
  }

  /**
   * The source offsets Kafka Connect committed for a connector (KIP-875,
   * Kafka 3.6+): one entry per source partition; Debezium PostgreSQL's has
   * `lsn` (a number) among others. Connect commits an offset only once every
   * record before it was acknowledged by Kafka.
   * @throws {CdcViewsError} CONNECT_ERROR when Connect refuses (e.g. an older Connect without the endpoint)
   */
  async offsets(name: string): Promise<{ partition: Record<string, unknown>; offset: Record<string, unknown> | null }[]> {
    const { status, json } = await this.request('GET', `/connectors/${encodeURIComponent(name)}/offsets`);
    if (status >= 300) throw new CdcViewsError('CONNECT_ERROR', `offsets of ${name}: HTTP ${status} ${JSON.stringify(json)}`);
    return (json as { offsets: { partition: Record<string, unknown>; offset: Record<string, unknown> | null }[] }).offsets;
  }

  /** Status of a connector and its tasks; null when it does not exist. */
  async status(name: string): Promise<ConnectorStatus | null> {
    const { status, json } = await this.request('GET', `/connectors/${encodeURIComponent(name)}/status`);
    if (status === 404) return null;
    if (status >= 300) throw new CdcViewsError('CONNECT_ERROR', `status of ${name}: HTTP ${status} ${JSON.stringify(json)}`);
    return json as ConnectorStatus;
  }

  /** Deletes a connector; no error when it does not exist. */
  async delete(name: string): Promise<void> {
    const { status, json } = await this.request('DELETE', `/connectors/${encodeURIComponent(name)}`);
    if (status >= 300 && status !== 404) throw new CdcViewsError('CONNECT_ERROR', `delete ${name}: HTTP ${status} ${JSON.stringify(json)}`);
  }

  /**
   * Deletes a connector together with its source offsets (Kafka Connect keeps
   * offsets after a plain DELETE, so a new connector of the same name would
   * resume from them and skip its snapshot). Offsets can only be reset on a
   * STOPPED connector (KIP-875, Kafka 3.6+); when the connector does not
   * exist, `placeholder` is created stopped to reach offsets left by an
   * earlier plain delete. Connect validates a placeholder's config (it
   * connects to the database), so it must point at a reachable database.
   * @param timeoutMs @defaultValue 60000
   */
  async deleteWithOffsets(placeholder: ConnectorDefinition, timeoutMs = 60_000): Promise<void> {
    const name = placeholder.name;
    const path = `/connectors/${encodeURIComponent(name)}`;
    if ((await this.status(name)) === null) {
      const created = await this.request('POST', '/connectors', { name, config: placeholder.config, initial_state: 'STOPPED' });
      if (created.status >= 300) throw new CdcViewsError('CONNECT_ERROR', `cannot create ${name} stopped to reset its offsets: HTTP ${created.status} ${JSON.stringify(created.json)}`);
    } else {
      const stopped = await this.request('PUT', `${path}/stop`);
      if (stopped.status >= 300) throw new CdcViewsError('CONNECT_ERROR', `cannot stop ${name}: HTTP ${stopped.status} ${JSON.stringify(stopped.json)}`);
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await this.status(name))?.connector.state;
      if (state === 'STOPPED') {
        const del = await this.request('DELETE', `${path}/offsets`);
        if (del.status < 300) break; // 400 while tasks are still shutting down: retry
        if (Date.now() > deadline) throw new CdcViewsError('CONNECT_ERROR', `cannot reset offsets of ${name}: HTTP ${del.status} ${JSON.stringify(del.json)}`);
      } else if (Date.now() > deadline) {
        throw new CdcViewsError('CONNECT_TIMEOUT', `${name} did not stop within ${timeoutMs} ms (state ${state})`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await this.delete(name);
  }

  /**
   * Waits until the connector and all its tasks are RUNNING.
   * @param timeoutMs @defaultValue 60000
   * @throws {CdcViewsError} CONNECT_FAILED with the task's trace, or CONNECT_TIMEOUT.
   */
  async waitRunning(name: string, timeoutMs = 60_000): Promise<ConnectorStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(name);
      const failed = s?.tasks.find((t) => t.state === 'FAILED') ?? (s?.connector.state === 'FAILED' ? s.connector : undefined);
      if (failed) throw new CdcViewsError('CONNECT_FAILED', `connector ${name} failed: ${failed.trace?.split('\n')[0] ?? 'no trace'}`);
      if (s && s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING')) return s;
      if (Date.now() > deadline) throw new CdcViewsError('CONNECT_TIMEOUT', `connector ${name} not RUNNING after ${timeoutMs} ms (state: ${JSON.stringify(s)})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
