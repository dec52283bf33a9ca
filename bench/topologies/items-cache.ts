/**
 * The rebuild benchmark's topology: the items table with one cache document
 * per live item (`cdc-views replay` needs a topology with a view). Run both
 * live (`run --topology`) and through `replay --from earliest`, so the
 * rebuild / materialize ratio compares the same work.
 */
import { StreamsBuilder } from 'cdc-views';

const builder = new StreamsBuilder('bench-items');
const items = builder.table('public.items');

items
  .view('item')
  .mapValues((item) => ({ id: item.id, sku: item.sku, name: item.name, price: item.price, active: item.active }))
  .as('item')
  .toCache();

export default builder.build('bench/topologies/items-cache.ts');
