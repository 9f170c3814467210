// The login form: shown when a request needs credentials the browser did not supply (the
// Basic prompt was cancelled, or the registry uses token auth).

import { setCredentials } from '../api.js';
import { h } from '../dom.js';

export function loginView(message, then) {
  const user = h('input', { name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'login' },
    h('h1', null, 'Sign in'), h('p', null, message),
    h('label', null, 'User ', user), h('label', null, 'Password ', password),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setCredentials(user.value, password.value);
    then();
  });
  return form;
}
