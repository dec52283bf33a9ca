/**
 * The search engine's own bulk-indexing ceiling for the documents of a join
 * run: the documents cdc-views wrote to `source` are read back (scroll, not
 * timed) and indexed into a fresh index `target` with the same mapping,
 * through the bulk API with plain `index` operations (no external versions),
 * `maxBulkDocs` a request and `concurrency` requests in flight — the sink's
 * defaults (src/sinks/search.ts: 1,000 documents a request; one writer per
 * partition task). Timed from the first request to the last acknowledgement
 * (no refresh), like cdc-views' caught-up point.
 * Bulk API: https://opensearch.org/docs/latest/api-reference/document-apis/bulk/
 */
import { Client } from '@opensearch-project/opensearch';

export interface BulkCeiling {
  documents: number;
  seconds: number;
  documentsPerSecond: number;
}

export async function searchBulkCeiling(url: string, source: string, target: string, opts: { maxBulkDocs?: number; concurrency?: number } = {}): Promise<BulkCeiling> {
  const client = new Client({ node: url, requestTimeout: 120_000 });
  const maxBulkDocs = opts.maxBulkDocs ?? 1000;
  const concurrency = opts.concurrency ?? 3;
  try {
    const docs: { id: string; body: string }[] = [];
    let page = await client.search({ index: source, scroll: '1m', size: 5000, body: { query: { match_all: {} } } });
    while (page.body.hits.hits.length > 0) {
      for (const h of page.body.hits.hits) docs.push({ id: String(h._id), body: JSON.stringify(h._source) });
      page = await client.scroll({ scroll_id: page.body._scroll_id as string, scroll: '1m' });
    }
    if (page.body._scroll_id) await client.clearScroll({ body: { scroll_id: page.body._scroll_id } }).catch(() => undefined);
    const mapping = (await client.indices.getMapping({ index: source })).body as unknown as Record<string, { mappings: Record<string, unknown> }>;
    await client.indices.create({ index: target, body: { mappings: mapping[source]!.mappings } });
    const requests: string[][] = [];
    for (let i = 0; i < docs.length; i += maxBulkDocs) {
      requests.push(docs.slice(i, i + maxBulkDocs).flatMap((d) => [JSON.stringify({ index: { _index: target, _id: d.id } }), d.body]));
    }
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const body = requests[next++]!;
        const res = await client.bulk({ body: body as unknown as Record<string, unknown>[] });
        if (res.body.errors) throw new Error(`bulk into ${target} refused items: ${JSON.stringify(res.body.items.find((i: Record<string, { error?: unknown }>) => Object.values(i)[0]?.error))}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (performance.now() - t0) / 1000;
    return { documents: docs.length, seconds: Number(seconds.toFixed(3)), documentsPerSecond: Math.round(docs.length / seconds) };
  } finally {
    await client.indices.delete({ index: target }).catch(() => undefined);
    await client.close();
  }
}
