// A repository: its tags (sorted and paged by the server: by push date, name or size), its
// untagged manifests, the pull commands, and deletes where the registry allows them.

import { getJson, remove, repoPath } from '../api.js';
import { bytes, clear, confirmDialog, copyField, date, errorBox, h, shortDigest, table, tabs } from '../dom.js';
import { link } from '../router.js';

const kPageSize = 50;

export function pullCommands(name, reference) {
  const host = location.host;
  const sep = reference.includes(':') ? '@' : ':';
  const ref = `${host}/${name}${sep}${reference}`;
  const local = `${name.split('/').pop()}-${reference.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  return [
    ['docker', `docker pull ${ref}`],
    ['podman', `podman pull ${ref}`],
    ['skopeo', `skopeo copy docker://${ref} oci:${local}`],
  ];
}

function pullBox(name, reference) {
  return h('div', { class: 'pull' }, pullCommands(name, reference).map(([tool, command]) =>
    h('label', null, h('span', { class: 'tool' }, tool), copyField(command, `${tool} pull command`))));
}

// A delete button with its confirmation, where `answer` (the server's, for this repository)
// says the user may delete; `after` runs once it is done.
function deleteButton(answer, what, message, path, after) {
  if (!answer.canDelete) return null;
  const status = h('span', { class: 'status' });
  const button = h('button', { type: 'button', class: 'danger small' }, 'Delete');
  button.addEventListener('click', async () => {
    if (!await confirmDialog(`Delete ${what}?`, message, 'Delete')) return;
    try {
      await remove(path);
      after();
    } catch (error) {
      clear(status, errorBox(error));
    }
  });
  return h('span', null, button, status);
}

function sortHeader(label, key, params, name) {
  const sort = params.get('sort') ?? 'pushed';
  const order = params.get('order') ?? 'desc';
  const active = sort === key;
  const next = active && order === 'desc' ? 'asc' : 'desc';
  const arrow = active ? (order === 'desc' ? ' ▼' : ' ▲') : '';
  return { node: h('a', { href: link('repo', { name, sort: key, order: next, q: params.get('q') }),
    class: active ? 'sorted' : null, 'aria-sort': active ? (order === 'desc' ? 'descending' : 'ascending') : null },
  label + arrow) };
}

async function tagsTab(page, name, params, rerender) {
  const sort = params.get('sort') ?? 'pushed';
  const order = params.get('order') ?? 'desc';
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const q = params.get('q') ?? '';
  const query = new URLSearchParams({ sort, order, n: kPageSize, offset });
  if (q) query.set('q', q);
  const answer = await getJson(`/v2/${repoPath(name)}/_regfs/tags?${query}`);
  const filter = h('form', { class: 'inline' },
    h('input', { type: 'search', name: 'q', value: q, placeholder: 'Tags containing…', 'aria-label': 'Filter tags' }),
    h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = link('repo', { name, sort, order, q: filter.elements.q.value });
  });
  const rows = (answer.tags ?? []).map((t) => [
    h('a', { href: link('image', { name, ref: t.tag }), class: 'tag' }, t.tag),
    h('code', { title: t.digest }, shortDigest(t.digest)),
    bytes(t.size),
    date(t.pushed),
    (t.platforms ?? []).join(', '),
    h('details', { class: 'pull-details' }, h('summary', null, 'Pull'), pullBox(name, t.tag)),
    t.immutable
      ? h('span', { class: 'badge immutable', title: `Immutable: ${t.immutable}` }, 'immutable')
      : deleteButton(answer, `tag ${t.tag}`,
        `The tag ${t.tag} goes; the manifest ${shortDigest(t.digest)} stays (with its other tags).`,
        `/v2/${repoPath(name)}/manifests/${encodeURIComponent(t.tag)}`, rerender),
  ]);
  const total = answer.total ?? rows.length;
  const pager = h('p', { class: 'pager' },
    offset > 0 ? h('a', { href: link('repo', { name, sort, order, q, offset: Math.max(0, offset - kPageSize) }) }, '‹ Previous') : null,
    ` ${total ? offset + 1 : 0}–${offset + rows.length} of ${total} tags `,
    offset + rows.length < total ? h('a', { href: link('repo', { name, sort, order, q, offset: offset + kPageSize }) }, 'Next ›') : null);
  page.append(filter, rows.length
    ? table([sortHeader('Tag', 'name', params, name), 'Digest', sortHeader('Size', 'size', params, name),
      sortHeader('Pushed', 'pushed', params, name), 'Platforms', '', ''], rows, { class: 'tags', id: 'tags' })
    : h('p', { class: 'muted' }, q ? 'No tag matches.' : 'No tags.'), pager);
}

async function untaggedTab(page, name, rerender) {
  const answer = await getJson(`/v2/${repoPath(name)}/_regfs/manifests?untagged=true`);
  const manifests = answer.manifests ?? [];
  if (!manifests.length) {
    page.append(h('p', { class: 'muted' }, 'No untagged manifests.'));
    return;
  }
  page.append(table(['Digest', 'Media type', 'Artifact type', 'Size', 'Pushed', ''], manifests.map((m) => [
    h('a', { href: link('image', { name, ref: m.digest }) }, h('code', { title: m.digest }, shortDigest(m.digest))),
    m.mediaType ?? '', m.artifactType ?? '', bytes(m.size), date(m.pushed),
    deleteButton(answer, `manifest ${shortDigest(m.digest)}`, `The manifest ${m.digest} is deleted.`,
      `/v2/${repoPath(name)}/manifests/${m.digest}`, rerender),
  ]), { class: 'untagged' }));
}

export async function repositoryView(page, params) {
  const name = params.get('name') ?? '';
  const tab = params.get('tab') ?? 'tags';
  document.title = `${name} · regfs`;
  const body = h('div', { class: 'tab-body' });
  const rerender = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  page.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Repositories'), ' / '),
    h('h1', null, name),
    tabs([
      { label: 'Tags', href: link('repo', { name }), active: tab === 'tags' },
      { label: 'Untagged manifests', href: link('repo', { name, tab: 'untagged' }), active: tab === 'untagged' },
    ]),
    body);
  if (tab === 'untagged') await untaggedTab(body, name, rerender);
  else await tagsTab(body, name, params, rerender);
}

export { deleteButton, pullBox };
