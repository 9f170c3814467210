// The catalog: every repository in one request, as a tree of namespaces ("team/tools/x" under
// "team" and "team/tools"), with its tag count, size and last push. The filter runs in the
// page over what is loaded, so it answers as it is typed. The server sends the names in
// catalog order, which the tree keeps: nothing is sorted here (a sort with localeCompare
// took much of a keystroke's time).

import { getJson } from '../api.js';
import { bytes, clear, date, h } from '../dom.js';
import { link, replaceParams } from '../router.js';

// More rows than this are not drawn: the filter narrows them. Drawing rows is most of what a
// keystroke costs (bench/ui_browser.mjs), and a screen shows a few dozen.
const kMaxRows = 250;

// {children: Map(segment -> node), repo: entry|null, count: repositories below}
function buildTree(repositories) {
  const root = { children: new Map(), repo: null, count: 0 };
  for (const repo of repositories) {
    let node = root;
    node.count++;
    for (const segment of repo.name.split('/')) {
      if (!node.children.has(segment)) node.children.set(segment, { children: new Map(), repo: null, count: 0 });
      node = node.children.get(segment);
      node.count++;
    }
    node.repo = repo;
  }
  return root;
}

function repoRow(repo, label) {
  return h('li', { class: 'repo' },
    h('a', { href: link('repo', { name: repo.name }) }, label),
    h('span', { class: 'meta' },
      h('span', { title: 'tags' }, `${repo.tags} ${repo.tags === 1 ? 'tag' : 'tags'}`),
      h('span', { title: 'size' }, bytes(repo.size)),
      h('span', { title: 'last push' }, date(repo.pushed))));
}

// The tree as nested lists, namespaces open when `open` says so; `budget.rows` counts down.
function drawTree(node, prefix, open, budget) {
  const list = h('ul', { class: 'tree' });
  for (const [segment, child] of node.children) {
    if (budget.rows <= 0) break;
    const name = prefix + segment;
    if (child.repo) {
      budget.rows--;
      list.append(repoRow(child.repo, child.children.size ? name : segment));
    }
    if (child.children.size) {
      const details = h('details', { open: open(child) },
        h('summary', null, h('span', { class: 'ns' }, `${name}/`),
          h('span', { class: 'meta' }, `${child.count - (child.repo ? 1 : 0)} repositories`)),
        drawTree(child, name + '/', open, budget));
      list.append(h('li', { class: 'namespace' }, details));
    }
  }
  return list;
}

export async function catalogView(page, params) {
  document.title = 'Repositories · regfs';
  const catalog = await getJson('/v2/_regfs/catalog');
  const repositories = catalog.repositories ?? [];
  const lowerNames = repositories.map((r) => r.name.toLowerCase());
  const input = h('input', { type: 'search', placeholder: 'Filter repositories', id: 'filter',
    value: params.get('q') ?? '', 'aria-label': 'Filter repositories', autocomplete: 'off' });
  const summary = h('p', { class: 'muted' });
  const results = h('div', { class: 'catalog' });

  function update() {
    const q = input.value.trim().toLowerCase();
    const shown = q ? repositories.filter((r, i) => lowerNames[i].includes(q)) : repositories;
    const budget = { rows: kMaxRows };
    // Filtered, or small enough: everything open; else the first level only.
    const open = (node) => Boolean(q) || shown.length <= 200 || node.count <= 20;
    clear(results, shown.length ? drawTree(buildTree(shown), '', open, budget)
      : h('p', { class: 'muted' }, q ? 'No repository matches.' : 'No repositories yet.'));
    clear(summary, q ? `${shown.length} of ${repositories.length} repositories match`
      : `${repositories.length} repositories`,
    budget.rows <= 0 ? ` (the first ${kMaxRows} shown: filter to see the rest)` : '');
  }
  input.addEventListener('input', () => {
    update();
    replaceParams({ q: input.value });
  });
  update();
  page.append(h('h1', null, 'Repositories'), input, summary, results);
  queueMicrotask(() => input.focus());
}
