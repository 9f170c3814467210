// An image (or an index: one tab per platform): its config, annotations, layers with the
// history that made them, its files, its referrers (signatures, SBOMs, attestations) and the
// raw manifest. One request for everything but the files.

import { getJson, repoPath } from '../api.js';
import { append, bytes, date, facts, h, keyValues, shortDigest, table, tabs } from '../dom.js';
import { link } from '../router.js';
import { filesTab } from './files.js';
import { deleteButton, pullBox } from './repository.js';

function configSection(config) {
  if (!config) return h('p', { class: 'muted' }, 'No image config (an artifact or an index).');
  const list = (items) => (items?.length ? h('code', null, JSON.stringify(items)) : null);
  return h('section', null,
    h('h2', null, 'Config'),
    facts([
      ['Platform', [config.os, config.architecture, config.variant].filter(Boolean).join('/')],
      ['Created', date(config.created)],
      ['Entrypoint', list(config.entrypoint)],
      ['Cmd', list(config.cmd)],
      ['User', config.user],
      ['Working dir', config.workingDir],
      ['Ports', (config.exposedPorts ?? []).join(', ')],
      ['Volumes', (config.volumes ?? []).join(', ')],
      ['Config', h('code', { title: config.digest }, shortDigest(config.digest))],
    ]),
    h('h3', null, 'Environment'),
    config.env?.length ? h('ul', { class: 'env' }, config.env.map((e) => h('li', null, h('code', null, e))))
      : h('p', { class: 'muted' }, 'None.'),
    h('h3', null, 'Labels'),
    keyValues(config.labels, 'None.'));
}

function layersSection(image) {
  const layers = image.layers ?? [];
  const history = image.history ?? [];
  const rows = history.length
    ? history.map((step) => [
      step.layer === null || step.layer === undefined ? h('span', { class: 'muted' }, '—') : String(step.layer),
      step.layer === null || step.layer === undefined ? '' : bytes(step.size ?? layers[step.layer]?.size),
      h('code', { class: 'command' }, step.createdBy ?? ''),
      step.comment ?? '',
      date(step.created)])
    : layers.map((l) => [String(l.index), bytes(l.size), h('code', { title: l.digest }, shortDigest(l.digest)), l.mediaType, '']);
  return h('section', null,
    h('h2', null, history.length ? 'History and layers' : 'Layers'),
    table(history.length ? ['Layer', 'Size', 'Created by', 'Comment', 'Created'] : ['Layer', 'Size', 'Digest', 'Media type', ''],
      rows, { class: 'history' }),
    h('h3', null, 'Layers'),
    table(['#', 'Digest', 'Media type', 'Size'], layers.map((l) => [String(l.index),
      h('code', { title: l.digest }, shortDigest(l.digest)), l.mediaType, bytes(l.size)]), { class: 'layers' }));
}

function referrersSection(name, image) {
  const referrers = image.referrers ?? [];
  if (!referrers.length) return h('p', { class: 'muted' }, 'No referrers.');
  const byType = new Map();
  for (const r of referrers) {
    const type = r.artifactType || r.mediaType || 'unknown';
    if (!byType.has(type)) byType.set(type, []);
    byType.get(type).push(r);
  }
  return h('section', { class: 'referrers' }, [...byType].map(([type, items]) => [
    h('h3', null, type),
    table(['Digest', 'Size', 'Annotations'], items.map((r) => [
      h('a', { href: link('image', { name, ref: r.digest }) }, h('code', { title: r.digest }, shortDigest(r.digest))),
      bytes(r.size),
      keyValues(r.annotations, '')])),
  ]));
}

function manifestSection(image) {
  let text = image.manifest ?? '';
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON after all: shown as stored
  }
  return h('pre', { class: 'manifest' }, text);
}

function platformsTable(name, reference, image) {
  return table(['Platform', 'Digest', 'Size'], (image.index?.platforms ?? []).map((p) => [
    h('a', { href: link('image', { name, ref: reference, platform: p.platform }) }, p.platform),
    h('code', { title: p.digest }, shortDigest(p.digest)), bytes(p.size)]));
}

export async function imageView(page, params) {
  const name = params.get('name') ?? '';
  const reference = params.get('ref') ?? '';
  const platform = params.get('platform') ?? '';
  const tab = params.get('tab') ?? 'overview';
  document.title = `${name}:${reference} · regfs`;
  const query = platform ? `?platform=${encodeURIComponent(platform)}` : '';
  const image = await getJson(`/v2/${repoPath(name)}/_regfs/image/${encodeURIComponent(reference)}${query}`);
  const isIndex = Boolean(image.index);
  const named = image.index?.digest ?? image.digest;
  const here = (extra) => link('image', { name, ref: reference, platform, ...extra });

  append(page, [
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Repositories'), ' / ',
      h('a', { href: link('repo', { name }) }, name), ' / '),
    h('h1', null, `${name}${reference.includes(':') ? '@' + shortDigest(reference) : ':' + reference}`),
    facts([
      ['Digest', h('code', null, named)],
      ['Platform image', platform ? h('code', null, image.digest) : null],
      ['Media type', image.mediaType],
      ['Size', bytes(image.size)],
      ['Tags', (image.tags ?? []).join(', ')],
    ]),
    h('details', { class: 'pull-details' }, h('summary', null, 'Pull commands'), pullBox(name, reference)),
    // The manifest the reference names: an index, not the platform's child shown.
    deleteButton(image, `manifest ${shortDigest(named)}`,
      `The manifest ${named} and every tag pointing at it (${(image.tags ?? []).join(', ') || 'none'}) are deleted.`,
      `/v2/${repoPath(name)}/manifests/${named}`, () => { location.hash = link('repo', { name }); })]);

  if (isIndex) {
    page.append(tabs([{ label: 'Index', href: link('image', { name, ref: reference }), active: !platform },
      ...(image.index.platforms ?? []).map((p) => ({
        label: p.platform, href: link('image', { name, ref: reference, platform: p.platform }),
        active: platform === p.platform,
      }))]));
  }
  if (isIndex && !platform) {
    page.append(h('h2', null, 'Platforms'), platformsTable(name, reference, image),
      h('h2', null, 'Annotations'), keyValues(image.annotations, 'None.'),
      h('h2', null, 'Referrers'), referrersSection(name, image),
      h('h2', null, 'Manifest'), manifestSection(image));
    return;
  }
  const body = h('div', { class: 'tab-body' });
  page.append(tabs([
    { label: 'Overview', href: here({}), active: tab === 'overview' },
    { label: 'Layers', href: here({ tab: 'layers' }), active: tab === 'layers' },
    { label: 'Files', href: here({ tab: 'files' }), active: tab === 'files' },
    { label: `Referrers (${(image.referrers ?? []).length})`, href: here({ tab: 'referrers' }), active: tab === 'referrers' },
    { label: 'Manifest', href: here({ tab: 'manifest' }), active: tab === 'manifest' },
  ]), body);
  if (tab === 'layers') body.append(layersSection(image));
  else if (tab === 'files') await filesTab(body, { name, reference, platform, path: params.get('path') ?? '/', image });
  else if (tab === 'referrers') body.append(referrersSection(name, image));
  else if (tab === 'manifest') body.append(manifestSection(image));
  else body.append(configSection(image.config), h('h2', null, 'Annotations'), keyValues(image.annotations, 'None.'));
}
