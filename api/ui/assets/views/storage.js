// The store as a whole: its blobs and bytes, what deduplication saves, the biggest
// repositories and the uploads in progress.

import { getJson } from '../api.js';
import { bytes, date, facts, h, table } from '../dom.js';
import { link } from '../router.js';

export async function storageView(page) {
  document.title = 'Storage · regfs';
  const s = await getJson('/v2/_regfs/storage');
  const uploads = s.uploads ?? [];
  page.append(
    h('h1', null, 'Storage'),
    facts([
      ['Stored', `${bytes(s.bytes)} in ${s.blobs} blobs`],
      ['Referenced', `${bytes(s.referencedBytes)} by ${s.repositories} repositories`],
      ['Saved by deduplication', bytes(s.dedupeSavings)],
    ]),
    h('h2', null, 'Biggest repositories'),
    table(['Repository', 'Size'], (s.biggest ?? []).map((r) => [
      h('a', { href: link('repo', { name: r.name }) }, r.name), bytes(r.size)]), { class: 'biggest' }),
    h('h2', null, 'Uploads in progress'),
    uploads.length
      ? table(['Repository', 'Upload', 'Size', 'Started'], uploads.map((u) => [u.name, h('code', null, u.uuid),
        bytes(u.size), date(u.startedAt)]))
      : h('p', { class: 'muted' }, 'None.'));
}
