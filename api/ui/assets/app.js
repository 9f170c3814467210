// The web UI: renders the view the URL names (router.js) on load and on every change of it;
// the server serves the one page at / only.

import { askAlsoFor, getJson, LoginNeeded } from './api.js';
import { clear, errorBox, h } from './dom.js';
import { catalogView } from './views/catalog.js';
import { imageView } from './views/image.js';
import { loginView } from './views/login.js';
import { repositoryView } from './views/repository.js';
import { storageView } from './views/storage.js';
import { parseHash } from './router.js';

const views = { '': catalogView, repo: repositoryView, image: imageView, storage: storageView };

// What the views share: who is signed in and what the registry allows.
const context = {
  whoami: null,
};

let generation = 0;

async function render() {
  const mine = ++generation;
  const main = document.getElementById('main');
  const { view, params } = parseHash();
  const show = views[view];
  try {
    if (!context.whoami) {
      context.whoami = await getJson('/v2/_regfs/whoami');
      askAlsoFor(context.whoami.deleteEnabled ? ['delete'] : []);
      const who = document.getElementById('who');
      clear(who, context.whoami.user ? `signed in as ${context.whoami.user}` : '');
    }
    if (!show) {
      clear(main, h('h1', null, 'Not found'), h('p', null, 'No such page. ',
        h('a', { href: '#/' }, 'Repositories')));
      return;
    }
    // A view renders into a detached node: a slower earlier render never overwrites a later one.
    const page = h('div', { class: 'page' });
    await show(page, params, context);
    if (mine === generation) main.replaceChildren(page);
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof LoginNeeded) {
      context.whoami = null;
      clear(main, loginView(error.message, render));
      return;
    }
    document.title = 'regfs';
    clear(main, errorBox(error));
  }
}

window.addEventListener('hashchange', render);
render();
