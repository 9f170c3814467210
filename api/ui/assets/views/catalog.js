// The catalog: every repository in one request, as a tree of namespaces ("team/tools/x" under
// "team" and "team/tools"), with its tag count, size and last push. The filter runs in the
// page over what is loaded, so it answers as it is typed.
//
// What a keystroke costs is kept to what the screen shows (bench/ui_browser.mjs): names are
// lower-cased once; typing on narrows the previous matches instead of all names; no tree is
// built. The server sends the names in catalog order (component by component), so the names
// under a namespace are contiguous: the tree is drawn straight from the list of matches, a
// namespace's count is a search for where its run ends, a closed namespace is drawn when it
// is opened, and rows past kPageRows wait behind a "Show more" button.

import { getJson } from '../api.js';
import { bytes, clear, date, h } from '../dom.js';
import { link, replaceParams } from '../router.js';

// Rows drawn at once, and again per "Show more": a screen shows a few dozen.
const kPageRows = 100;
// The URL follows the filter once typing pauses (replacing history entries on every key
// costs time of its own).
const kUrlDelayMs = 250;

function repoRow(repo, label) {
  return h('li', { class: 'repo' },
    h('a', { href: link('repo', { name: repo.name }) }, label),
    h('span', { class: 'meta' },
      h('span', { title: 'tags' }, `${repo.tags} ${repo.tags === 1 ? 'tag' : 'tags'}`),
      h('span', { title: 'size' }, bytes(repo.size)),
      h('span', { title: 'last push' }, date(repo.pushed))));
}

// The end of the run of `names` from `from` (before `to`) that start with `prefix`: the run is
// contiguous in catalog order, so a galloping search finds its end in log steps.
function runEnd(names, from, to, prefix) {
  let step = 1;
  let lo = from; // names[lo] starts with prefix (or lo === from)
  while (lo + step < to && names[lo + step].startsWith(prefix)) {
    lo += step;
    step *= 2;
  }
  let hi = Math.min(lo + step, to); // names[hi] does not, or hi === to
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (names[mid].startsWith(prefix)) lo = mid;
    else hi = mid;
  }
  return names[from].startsWith(prefix) ? hi : from;
}

// Draws matches [from, to) of `shown` (indices into `repos`), which all lie below `prefix`,
// into `list`, at most `budget.rows` rows; what is left waits behind a "Show more" button
// that draws it in place. `open(count)` says whether a namespace of `count` matches starts
// open; a closed one is drawn when it is first opened.
function drawRange(list, view, from, to, prefix, budget) {
  const { repos, shown, shownNames, open } = view;
  let i = from;
  while (i < to && budget.rows > 0) {
    const name = shownNames[i];
    const rest = name.slice(prefix.length);
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    const full = prefix + segment;
    const below = full + '/';
    const repo = slash < 0 ? repos[shown[i]] : null;
    if (repo) i++;
    const end = i < to ? runEnd(shownNames, i, to, below) : i;
    if (repo) {
      budget.rows--;
      list.append(repoRow(repo, end > i ? repo.name : segment));
    }
    if (end > i) {
      const count = end - i;
      const inner = h('ul', { class: 'tree' });
      const details = h('details', { open: open(count) },
        h('summary', null, h('span', { class: 'ns' }, below),
          h('span', { class: 'meta' }, `${count} ${count === 1 ? 'repository' : 'repositories'}`)),
        inner);
      const [start, stop] = [i, end];
      if (details.open) {
        drawRange(inner, view, start, stop, below, budget);
      } else {
        details.addEventListener('toggle', () => {
          if (details.open && !inner.hasChildNodes()) drawRange(inner, view, start, stop, below, { rows: kPageRows });
        });
      }
      list.append(h('li', { class: 'namespace' }, details));
      i = end;
    }
  }
  if (i < to) {
    const more = h('button', { type: 'button', class: 'small more' }, `Show more (${to - i} left here)`);
    const item = h('li', { class: 'more' }, more);
    more.addEventListener('click', () => {
      const rest = h('ul', { class: 'tree' });
      drawRange(rest, view, i, to, prefix, { rows: kPageRows });
      item.replaceWith(...rest.childNodes);
    });
    list.append(item);
  }
}

export async function catalogView(page, params) {
  document.title = 'Repositories · regfs';
  const catalog = await getJson('/v2/_regfs/catalog');
  const repos = catalog.repositories ?? [];
  const names = repos.map((r) => r.name);
  const lowerNames = names.map((n) => n.toLowerCase());
  const everything = repos.map((_, i) => i);
  const input = h('input', { type: 'search', placeholder: 'Filter repositories', id: 'filter',
    value: params.get('q') ?? '', 'aria-label': 'Filter repositories', autocomplete: 'off' });
  const summary = h('p', { class: 'muted' });
  const results = h('div', { class: 'catalog' });
  let last = { q: '', shown: everything };
  let urlTimer = 0;

  function update() {
    const q = input.value.trim().toLowerCase();
    // Typing on only narrows: look among the last matches.
    const from = q.startsWith(last.q) ? last.shown : everything;
    const shown = q ? from.filter((i) => lowerNames[i].includes(q)) : everything;
    last = { q, shown };
    const view = {
      repos, shown, shownNames: shown.map((i) => names[i]),
      // Filtered, or small enough: everything open; else namespaces of a few.
      open: (count) => Boolean(q) || shown.length <= 200 || count <= 20,
    };
    const list = h('ul', { class: 'tree' });
    if (shown.length) drawRange(list, view, 0, shown.length, '', { rows: kPageRows });
    clear(results, shown.length ? list
      : h('p', { class: 'muted' }, q ? 'No repository matches.' : 'No repositories yet.'));
    clear(summary, q ? `${shown.length} of ${repos.length} repositories match`
      : `${repos.length} repositories`);
  }
  input.addEventListener('input', () => {
    update();
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => replaceParams({ q: input.value }), kUrlDelayMs);
  });
  update();
  page.append(h('h1', null, 'Repositories'), input, summary, results);
  queueMicrotask(() => input.focus());
}
