// The page's URLs: '#/<view>?<params>'. Every view has one, so a deep link survives a reload.

// '#/image?name=a/b&ref=1.0' -> {view: 'image', params}
export function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const at = hash.indexOf('?');
  return {
    view: at < 0 ? hash : hash.slice(0, at),
    params: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)),
  };
}

// link('repo', {name: 'a/b'}) -> '#/repo?name=a%2Fb'; empty parameters are left out.
export function link(view, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') query.set(k, v);
  }
  const q = query.toString();
  return `#/${view}${q ? '?' + q : ''}`;
}

// Replaces the current URL's parameters without a new render (a filter as it is typed).
export function replaceParams(params) {
  history.replaceState(null, '', link(parseHash().view, params));
}
