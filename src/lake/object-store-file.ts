/**
 * The `file://` backend of {@link ObjectStore}: objects are files under a
 * root folder. A put writes a temporary file in the target folder and then
 * renames it over the key (atomic on POSIX file systems); a put-if-absent
 * links the temporary file to the key instead, which fails when the key
 * exists (`link(2)` returns EEXIST), so exactly one of racing writers wins.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectExistsError, ObjectStoreError, ObjectStoreErrorCode, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store.ts';

const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | undefined)?.code === code;

/** Objects as files under the folder of a `file:///abs/path` URL. */
export class FileObjectStore implements ObjectStore {
  readonly url: string;
  private readonly root: string;

  /** @param url `file:///absolute/folder` (created on the first put) */
  constructor(url: string) {
    this.root = fileURLToPath(url);
    this.url = url.replace(/\/+$/, '');
  }

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  private fail(op: string, key: string, err: unknown): never {
    throw new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${op} ${this.url}/${key} failed: ${(err as Error).message}`, { cause: err });
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR')) return undefined;
      return this.fail('reading', key, err);
    }
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<void> {
    const target = this.path(key);
    const tmp = join(dirname(target), `.tmp-${randomUUID()}`);
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(tmp, body);
      if (options.ifAbsent) {
        try {
          await link(tmp, target);
        } catch (err) {
          if (isErrno(err, 'EEXIST')) throw new ObjectExistsError(key, this.url);
          throw err;
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      } else {
        await rename(tmp, target);
      }
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      await unlink(tmp).catch(() => undefined);
      this.fail('writing', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // The folder that holds every key with the prefix: the prefix up to its last '/'.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    let entries;
    try {
      entries = await readdir(this.path(folder), { withFileTypes: true, recursive: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      return this.fail('listing', prefix, err);
    }
    const out: ObjectInfo[] = [];
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith('.tmp-')) continue;
      const full = join(e.parentPath, e.name);
      const key = relative(this.root, full).split(sep).join('/');
      if (!key.startsWith(prefix)) continue;
      const s = await stat(full).catch(() => undefined);
      if (s) out.push({ key, size: s.size, lastModified: s.mtimeMs });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      try {
        await rm(this.path(key), { force: true });
      } catch (err) {
        this.fail('deleting', key, err);
      }
    }
  }
}
