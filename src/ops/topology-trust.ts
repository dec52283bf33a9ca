/**
 * The code-execution boundary of the operator commands (docs/security.md):
 * a topology file is code, run with the command's credentials, and the
 * version registry in Redis records the topology file each version runs
 * (`VersionEntry.topologyFile`). Whoever can write the state Redis could make
 * that path point at any file, so an operator command imports a path read
 * from Redis only when the operator confirmed it: by giving the same path as
 * `--topology` (then the command imports the operator's path), or with
 * `--trust-registered-topology`.
 */
import { resolve } from 'node:path';
import { CdcViewsError } from '../errors.ts';

/** What a command knows about the topology file to import. */
export interface TopologyChoice {
  /** `--topology`, as the operator gave it. */
  given?: string | undefined;
  /** The path the version registry (Redis) names, if any. */
  registered?: string | undefined;
  /** `--trust-registered-topology`. @defaultValue false */
  trustRegistered?: boolean;
  /** The application, for the message. */
  applicationId: string;
}

/**
 * The topology file a command may import: `--topology` when given; else the
 * registered path with `--trust-registered-topology`; else none (no
 * registered path either).
 * @throws {CdcViewsError} OPS_TOPOLOGY_UNTRUSTED (exit 1, refused) when only
 *   Redis names a file and the operator did not confirm it, naming the path and both options
 */
export function topologyToImport(c: TopologyChoice): string | undefined {
  if (c.given !== undefined) return c.given;
  if (c.registered === undefined) return undefined;
  if (c.trustRegistered === true) return c.registered;
  throw new CdcViewsError(
    'OPS_TOPOLOGY_UNTRUSTED',
    `the version registry in Redis names the topology file ${JSON.stringify(c.registered)} for ${c.applicationId}; a file path read from Redis is not imported (it is code, and whoever can write the Redis could point it anywhere): pass --topology ${resolve(c.registered)} if that is the file, or --trust-registered-topology to import the registered path`,
  );
}
