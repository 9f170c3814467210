// The files inside an image (the files API, /v2/<name>/_regfs/files/…): a directory's
// entries with their metadata and the layer each came from; a file's metadata, a preview of
// its start when it is text (set as text, never as markup), and a download (the server
// answers it as an attachment, so an HTML file inside an image never renders here).

import { credentials, getBlob, getFile, getJson, repoPath } from '../api.js';
import { append, bytes, date, errorBox, facts, h, shortDigest, table } from '../dom.js';
import { link } from '../router.js';

// How much of a file is fetched for its preview.
const kPreviewBytes = 64 * 1024;
// While the server indexes the image's layers (503 INDEX_PENDING), the request is made again
// this often, for this long at most.
const kPendingRetryMs = 1000;
const kPendingGiveUpMs = 10 * 60 * 1000;

// `ask()` until the server stops answering INDEX_PENDING, or the page went elsewhere;
// `note` says why the page waits.
async function whenIndexed(ask, note) {
  const started = Date.now();
  const here = location.hash;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      const retry = error.code === 'INDEX_PENDING' && location.hash === here &&
        Date.now() - started < kPendingGiveUpMs;
      if (!retry) throw error;
      note.hidden = false;
      await new Promise((resolve) => setTimeout(resolve, kPendingRetryMs));
    }
  }
}

function filesUrl(name, reference, platform, path, query = {}) {
  const segments = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const q = new URLSearchParams(query);
  if (platform) q.set('platform', platform);
  const qs = q.toString();
  return `/v2/${repoPath(name)}/_regfs/files/${encodeURIComponent(reference)}/${segments}${qs ? '?' + qs : ''}`;
}

function join(dir, name) {
  return (dir.endsWith('/') ? dir : dir + '/') + name;
}

function parentOf(path) {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(0, trimmed.lastIndexOf('/')) || '/';
}

// "layer 2 (sha256:abc…)" for a layer digest, from the image's layer list.
function layerLabel(image, digest) {
  if (!digest) return '';
  const layer = (image.layers ?? []).find((l) => l.digest === digest);
  return h('span', { title: digest }, layer ? `layer ${layer.index} ` : '', h('code', null, shortDigest(digest)));
}

function crumbs(at, path) {
  const parts = path.split('/').filter(Boolean);
  const out = [h('a', { href: at('/') }, '/')];
  parts.forEach((part, i) => {
    out.push(h('a', { href: at('/' + parts.slice(0, i + 1).join('/')) }, part));
    if (i < parts.length - 1) out.push('/');
  });
  return h('p', { class: 'path' }, out);
}

function listing(at, image, dir, entries, more) {
  const rows = entries.map((e) => [
    h('a', { href: at(join(dir, e.name)), class: `entry ${e.type}` }, e.name + (e.type === 'directory' ? '/' : '')),
    e.type === 'symlink' ? `→ ${e.target ?? ''}` : e.type,
    h('code', null, e.mode), `${e.uid}:${e.gid}`,
    e.type === 'file' ? bytes(e.size) : '',
    date(e.mtime),
    layerLabel(image, e.layer)]);
  return [table(['Name', 'Type', 'Mode', 'Owner', 'Size', 'Modified', 'From'], rows, { class: 'files', id: 'files' }),
    more ? h('p', { class: 'muted' }, 'More entries follow; the first ones are shown.') : null];
}

// The directory entry of `path` (a file), from its parent's listing, page by page.
async function entryOf(name, reference, platform, path, note) {
  const parent = parentOf(path);
  const base = path.slice(path.lastIndexOf('/') + 1);
  let last = '';
  for (;;) {
    const url = filesUrl(name, reference, platform, parent, last ? { last } : {});
    const page = await whenIndexed(() => getJson(url), note);
    const entries = page.entries ?? [];
    const found = entries.find((e) => e.name === base);
    if (found || entries.length === 0) return found ?? null;
    last = entries[entries.length - 1].name;
  }
}

// The text of `buffer` when it reads as UTF-8 without NULs, else null.
function asText(buffer) {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return text.includes('\0') ? null : text;
  } catch {
    return null;
  }
}

function downloadLink(url, fileName) {
  const a = h('a', { href: url, download: fileName, class: 'button', id: 'download' }, 'Download');
  a.addEventListener('click', async (event) => {
    // With credentials from the login form the browser would not send them itself.
    if (!credentials()) return;
    event.preventDefault();
    const blobUrl = URL.createObjectURL(await getBlob(url));
    const temp = h('a', { href: blobUrl, download: fileName });
    temp.click();
    setTimeout(() => URL.revokeObjectURL(blobUrl), 10000);
  });
  return a;
}

function fileDetails(image, path, entry, bytesRead, size, url) {
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  const text = asText(bytesRead);
  return h('section', { class: 'file' },
    h('h3', null, fileName),
    facts([
      ['Size', bytes(size)],
      ['Mode', entry?.mode], ['Owner', entry ? `${entry.uid}:${entry.gid}` : ''],
      ['Modified', date(entry?.mtime)],
      ['From', layerLabel(image, entry?.layer)],
    ]),
    downloadLink(url, fileName),
    text === null ? h('p', { class: 'muted' }, 'Binary file: no preview.')
      : [size > bytesRead.byteLength ? h('p', { class: 'muted' }, `The first ${bytes(bytesRead.byteLength)} of ${bytes(size)}:`) : null,
        h('pre', { class: 'preview', id: 'preview' }, text)]);
}

export async function filesTab(page, { name, reference, platform, path, image }) {
  const at = (p) => link('image', { name, ref: reference, platform, tab: 'files', path: p });
  const url = filesUrl(name, reference, platform, path);
  page.append(crumbs(at, path));
  const note = h('p', { class: 'muted', id: 'indexing', hidden: true },
    "Indexing this image's layers (once per layer)…");
  page.append(note);
  let answer;
  try {
    answer = await whenIndexed(() => getFile(url, kPreviewBytes), note);
  } catch (error) {
    note.remove();
    page.append(errorBox(error));
    return;
  }
  if (answer.json?.entries) {
    note.remove();
    append(page, [listing(at, image, path, answer.json.entries, false)]);
    return;
  }
  if (answer.json) {
    note.remove();
    const e = answer.json.entry ?? {};
    page.append(facts([['Type', e.type], ['Target', e.target], ['Mode', e.mode],
      ['From', layerLabel(image, e.layer)]]));
    return;
  }
  let entry = null;
  try {
    entry = await entryOf(name, reference, platform, path, note);
  } catch {
    // the file's own answer above is what matters; its listing entry adds metadata only
  }
  note.remove();
  page.append(fileDetails(image, path, entry, answer.bytes, answer.size, url));
}
