// DOM helpers. Every value reaches the page as a text node or an attribute set through the
// DOM, never as markup: names, labels, annotations, history and file contents come from
// whoever pushed the image.

// h('a', {href, class, onclick}, child, …): an element; strings become text nodes.
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

const kUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function bytes(n) {
  if (n === null || n === undefined) return '';
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < kUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${kUnits[unit]}`;
}

// "2026-12-07 10:00 UTC" from an RFC 3339 date ('' for none or a date that does not parse).
export function date(text) {
  if (!text) return '';
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return String(text);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function shortDigest(digest) {
  if (!digest) return '';
  const [algorithm, hex] = String(digest).split(':');
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : String(digest);
}

// A table: `columns` are [label, …] or {label, onclick, class}; `rows` arrays of cells.
export function table(columns, rows, props) {
  const head = h('tr', null, columns.map((c) =>
    typeof c === 'string' ? h('th', null, c) : h('th', { class: c.class }, c.node ?? c.label)));
  const body = rows.map((cells) => h('tr', null, cells.map((cell) => h('td', null, cell))));
  return h('table', props, h('thead', null, head), h('tbody', null, body));
}

// Tabs as links: [{label, href, active}].
export function tabs(items) {
  return h('nav', { class: 'tabs', role: 'tablist' }, items.map((t) =>
    h('a', { href: t.href, role: 'tab', class: t.active ? 'active' : null,
      'aria-selected': t.active ? 'true' : 'false' }, t.label)));
}

// A definition list of [term, value] pairs, skipping empty values.
export function facts(pairs) {
  const items = pairs.filter(([, value]) => value !== null && value !== undefined && value !== '' &&
    !(Array.isArray(value) && value.length === 0));
  return h('dl', { class: 'facts' }, items.map(([term, value]) => [h('dt', null, term),
    h('dd', null, value instanceof Node ? value : Array.isArray(value) ? value.join(' ') : value)]));
}

// Key/value pairs (labels, annotations) as a two-column table.
export function keyValues(object, empty) {
  const entries = Object.entries(object ?? {});
  if (entries.length === 0) return h('p', { class: 'muted' }, empty);
  return table(['Key', 'Value'], entries.map(([k, v]) => [h('code', null, k), String(v)]),
    { class: 'kv' });
}

// A read-only field with a button that copies it (the clipboard API where the page is a secure
// context, else the field's selection and the older copy command).
export function copyField(text, label) {
  const input = h('input', { type: 'text', readonly: true, value: text, 'aria-label': label,
    class: 'copy-text' });
  const button = h('button', { type: 'button', class: 'copy' }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      input.select();
      document.execCommand('copy');
    }
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  return h('span', { class: 'copy-field' }, input, button);
}

// Asks before something that cannot be undone, in a modal <dialog>; resolves to true on yes.
export function confirmDialog(title, message, action) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm' },
      h('form', { method: 'dialog' },
        h('h2', null, title), h('p', null, message),
        h('div', { class: 'buttons' },
          h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
          h('button', { value: 'yes', type: 'submit', class: 'danger' }, action))));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'yes');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function errorBox(error) {
  return h('div', { class: 'error', role: 'alert' }, error?.message ?? String(error));
}
