// The web UI in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
// Run by tests/integration/web_ui_browser_test.cc, which starts regfs-server and pushes the
// images this script expects (the names below), then:
//   node ui.test.mjs browse URL SCREENSHOT_DIR     every view, deep links, hostile values, delete
//   node ui.test.mjs htpasswd URL USER PASSWORD    the sign-in flows with htpasswd
//   node ui.test.mjs catalog URL                   a catalog of 250 repositories in many/
//   node ui.test.mjs token URL FOREIGN_URL         token auth: URL's realm is on its origin,
//                                                  FOREIGN_URL's on another
// Exits 1 with one line per failed check; a Chromium that cannot start fails the run.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [mode, base, ...rest] = process.argv.slice(2);
const kChromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kTimeout = 20000;

// What the page must never do, whatever it shows: open a dialog (alert, confirm, prompt), run a
// script it did not ship, or break its own Content-Security-Policy.
function watch(page) {
  const seen = { dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    d.dismiss();
  });
  page.on('pageerror', (e) => seen.errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // 401, 403 and 404 are answers the page shows; 503 is the files API while it indexes a layer.
    if (m.type() === 'error' && !/status of (40[134]|503)/.test(m.text())) seen.errors.push(`console: ${m.text()}`);
  });
  return seen;
}

async function untouched(page, seen, where) {
  assert.deepEqual(seen.dialogs, [], `${where}: a dialog opened`);
  assert.deepEqual(seen.errors, [], `${where}: errors in the page`);
  const dom = await page.evaluate(() => ({
    title: document.title,
    images: document.querySelectorAll('img, iframe, object, embed').length,
    scripts: [...document.scripts].map((s) => s.src),
    pwned: window.pwned ?? null,
  }));
  assert.match(dom.title, /regfs$/, `${where}: the title changed: ${dom.title}`);
  assert.equal(dom.images, 0, `${where}: an element from a value was created`);
  assert.deepEqual(dom.scripts, [new URL('/ui/app.js', base).href], `${where}: a script element was added`);
  assert.equal(dom.pwned, null, `${where}: a hostile value ran`);
}

async function open(page, hash, text) {
  await page.goto(new URL('/' + hash, base).href);
  if (text) await page.getByText(text, { exact: false }).first().waitFor({ timeout: kTimeout });
}

async function shot(page, dir, name) {
  await page.screenshot({ path: join(dir, name), fullPage: true });
}

const checks = [];
function check(name, fn) {
  checks.push([name, fn]);
}

// --- browse: every view over the images the runner pushed ---

check('catalog: a namespace tree with tag counts and sizes, filtered as typed', async ({ page, dir }) => {
  await open(page, '#/', 'library/');
  const tree = page.locator('.catalog');
  await tree.getByRole('link', { name: 'hello', exact: true }).waitFor();
  assert.match(await tree.textContent(), /team\/tools\//);
  assert.match(await tree.locator('li.repo', { hasText: 'hello' }).first().textContent(), /\d+ tags.*(B|KiB)/);
  await shot(page, dir, 'catalog.png');
  await page.fill('#filter', 'arch');
  await page.waitForFunction(() => document.querySelectorAll('.catalog li.repo').length === 1);
  assert.match(await tree.textContent(), /arch/);
  await page.waitForURL(/q=arch/);
  // The filter is in the URL: a reload keeps it.
  await page.reload();
  await page.locator('.catalog li.repo').first().waitFor();
  assert.equal(await page.inputValue('#filter'), 'arch');
  assert.equal(await page.locator('.catalog li.repo').count(), 1);
});

check('repository: tags sorted on the server, pull commands, untagged manifests', async ({ page, dir }) => {
  await open(page, '#/repo?name=library/hello', 'Untagged manifests');
  const rows = page.locator('#tags tbody tr');
  await rows.first().waitFor();
  assert.ok(await rows.count() >= 3);
  // Newest push first by default; by name ascending on request.
  await page.getByRole('link', { name: /^Tag/ }).click();
  await page.waitForURL(/sort=name/);
  await page.locator('#tags').waitFor();
  const names = await page.locator('#tags tbody tr td:first-child').allTextContents();
  assert.deepEqual(names, [...names].sort().reverse(), 'sorted by name, descending on the first click');
  await page.getByRole('link', { name: /^Tag/ }).click();
  await page.waitForURL(/order=asc/);
  await page.waitForFunction(() => document.querySelector('#tags tbody td')?.textContent === '1.0');
  const pull = page.locator('#tags tbody tr').first().locator('details');
  await pull.locator('summary').click();
  const host = new URL(base).host;
  assert.equal(await pull.locator('input').first().inputValue(), `docker pull ${host}/library/hello:1.0`);
  assert.match(await pull.locator('input').nth(2).inputValue(), /^skopeo copy docker:\/\//);
  await shot(page, dir, 'repository.png');
  await page.getByRole('tab', { name: 'Untagged manifests' }).click();
  await page.locator('table.untagged code').first().waitFor();
});

check('image: config, labels, annotations, history with layers, raw manifest', async ({ page, dir, seen }) => {
  await open(page, '#/image?name=library/hello&ref=1.0', 'Config');
  const text = await page.locator('main').textContent();
  for (const value of ['/srv', 'app', 'PATH=/usr/bin', '8080/tcp', '<img src=x onerror=window.pwned=1>',
    '<script>window.pwned=2</script>']) {
    assert.ok(text.includes(value), `the image page shows ${value} as text`);
  }
  await shot(page, dir, 'image.png');
  await page.getByRole('tab', { name: 'Layers' }).click();
  await page.locator('table.history').waitFor();
  const history = await page.locator('table.history').textContent();
  assert.ok(history.includes('RUN echo "<iframe src=javascript:window.pwned=3>"'), 'history as text');
  await page.getByRole('tab', { name: 'Manifest' }).click();
  assert.match(await page.locator('pre.manifest').textContent(), /"schemaVersion": 2/);
  await untouched(page, seen, 'image page');
});

check('files: tree, metadata and layer, text preview, an HTML file downloaded', async ({ page, dir, seen }) => {
  // The server indexes no pushed layer (the runner turns that off): the first request of the
  // tab answers INDEX_PENDING while a layer is indexed, and the tab asks again.
  let pending = 0;
  page.on('response', (r) => {
    if (r.status() === 503 && r.url().includes('/_regfs/files/')) pending += 1;
  });
  await open(page, '#/image?name=library/hello&ref=1.0&tab=files', 'hello.txt');
  assert.ok(pending > 0, 'files: no INDEX_PENDING answer before the listing');
  const listing = await page.locator('#files').textContent();
  assert.ok(listing.includes('<img src=x onerror=window.pwned=4>.txt'), 'a hostile file name as text');
  assert.match(listing, /layer 0/);
  await page.getByRole('link', { name: 'hello.txt' }).click();
  await page.locator('#preview').waitFor();
  assert.equal(await page.locator('#preview').textContent(), 'hello from regfs\n');
  await shot(page, dir, 'files.png');
  // Only the fragment changes, so the previous file's page may still show for a moment.
  await open(page, '#/image?name=library/hello&ref=1.0&tab=files&path=/www/evil.html');
  await page.locator('#preview', { hasText: '<script>window.pwned=5</script>' }).waitFor();
  const downloading = page.waitForEvent('download');
  await page.click('#download');
  const download = await downloading;
  assert.equal(download.suggestedFilename(), 'evil.html');
  assert.match(page.url(), /path=(%2F|\/)www(%2F|\/)evil\.html$/, 'the page did not navigate');
  const headers = await page.evaluate(async () => {
    const r = await fetch('/v2/library/hello/_regfs/files/1.0/www/evil.html');
    return [r.headers.get('content-disposition'), r.headers.get('x-content-type-options')];
  });
  assert.match(headers[0], /^attachment/);
  assert.equal(headers[1], 'nosniff');
  await untouched(page, seen, 'files');
});

check('deep links survive a reload', async ({ page }) => {
  await open(page, '#/image?name=library/hello&ref=1.0&tab=files&path=/etc', 'os-release');
  await page.reload();
  await page.getByRole('link', { name: 'os-release' }).waitFor({ timeout: kTimeout });
  await open(page, '#/repo?name=library/hello&sort=size&order=asc', 'Untagged manifests');
  await page.reload();
  await page.locator('#tags a.sorted', { hasText: 'Size' }).waitFor({ timeout: kTimeout });
});

check('index: one tab per platform, referrers by artifact type', async ({ page, dir }) => {
  await open(page, '#/image?name=multi/arch&ref=2.0', 'Platforms');
  await page.getByRole('tab', { name: 'linux/arm64/v8' }).waitFor();
  const referrers = await page.locator('section.referrers').textContent();
  assert.ok(referrers.includes('application/vnd.example.sbom+json'), 'the SBOM by its artifact type');
  await shot(page, dir, 'index.png');
  await page.getByRole('tab', { name: 'linux/arm64/v8' }).click();
  await page.waitForURL(/platform=linux%2Farm64%2Fv8/);
  await page.getByText('linux/arm64/v8', { exact: true }).last().waitFor();
  await page.getByRole('tab', { name: 'Files' }).click();
  await page.getByRole('link', { name: 'arch.txt' }).waitFor({ timeout: kTimeout });
});

check('docker: an image docker built and pushed, its config and history, a manifest list', async ({ page, dir }) => {
  await open(page, '#/image?name=docker/app&ref=1.0', 'Config');
  const text = await page.locator('main').textContent();
  for (const value of ['application/vnd.docker.distribution.manifest.v2+json', 'linux/amd64', 'GREETING=hello',
    'org.example.built-by', '/srv', '9090/tcp', '["/bin/sh"]']) {
    assert.ok(text.includes(value), `the docker image's page shows ${value}`);
  }
  assert.equal(await page.locator('dd', { hasText: /^1000$/ }).count(), 1, 'the user docker set');
  await page.getByRole('tab', { name: 'Layers' }).click();
  await page.locator('table.history').waitFor();
  // Each step's row: the layer it made (— for steps that made none), its size, its command.
  const steps = await page.locator('table.history tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent)));
  const step = (what) => steps.find(([, , command]) => command.includes(what)) ?? [];
  assert.equal(step('echo docker-run')[0], '2', 'RUN made the third layer');
  assert.match(step('echo docker-run')[1], /B$/);
  assert.equal(step('greeting.txt')[0], '1', 'COPY made the second');
  assert.equal(step('ENV GREETING=hello')[0], '—', 'ENV made none');
  assert.equal(step('WORKDIR /srv')[0], '—');
  assert.equal(await page.locator('table.layers tbody tr').count(), 3);
  assert.match(await page.locator('table.layers').textContent(), /application\/vnd\.docker\.image\.rootfs\.diff\.tar\.gzip/);
  await shot(page, dir, 'docker-history.png');
  await page.getByRole('tab', { name: 'Files' }).click();
  await page.getByRole('link', { name: 'srv' }).click();
  await page.getByRole('link', { name: 'run.txt' }).click();
  await page.locator('#preview', { hasText: 'docker-run' }).waitFor();

  await open(page, '#/image?name=docker/app&ref=2.0', 'Platforms');
  assert.ok((await page.locator('main').textContent()).includes('application/vnd.docker.distribution.manifest.list.v2+json'));
  await page.getByRole('tab', { name: 'linux/amd64' }).waitFor();
  await page.getByRole('tab', { name: 'linux/arm64/v8' }).click();
  await page.waitForURL(/platform=linux%2Farm64%2Fv8/);
  await page.locator('main', { hasText: 'org.example.arch' }).waitFor();
  // The tag list shows both platforms of the list.
  await open(page, '#/repo?name=docker/app', '2.0');
  assert.match(await page.locator('#tags tbody tr', { hasText: '2.0' }).textContent(), /linux\/amd64, linux\/arm64\/v8/);
});

check('storage: totals, dedupe savings, biggest repositories', async ({ page, dir }) => {
  await open(page, '#/storage', 'Biggest repositories');
  assert.match(await page.locator('main').textContent(), /Saved by deduplication/);
  await page.locator('table.biggest a').first().waitFor();
  await shot(page, dir, 'storage.png');
});

check('delete: a tag goes after its confirmation, not before', async ({ page, seen }) => {
  await open(page, '#/repo?name=scratch/delete-me', 'old');
  const row = page.locator('#tags tbody tr', { hasText: 'old' });
  await row.getByRole('button', { name: 'Delete' }).click();
  const dialog = page.locator('dialog.confirm');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await row.count(), 1, 'cancel keeps the tag');
  await row.getByRole('button', { name: 'Delete' }).click();
  await page.locator('dialog.confirm').getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached', timeout: kTimeout });
  const tags = await page.evaluate(async () => (await (await fetch('/v2/scratch/delete-me/tags/list')).json()).tags);
  assert.deepEqual(tags, ['keep']);
  assert.deepEqual(seen.dialogs, [], 'the confirmation is the page\'s own, not a browser dialog');
  // keep is held by a regfs.immutable rule: a mark naming it instead of a delete button.
  const kept = page.locator('#tags tbody tr', { hasText: 'keep' });
  assert.equal(await kept.getByRole('button', { name: 'Delete' }).count(), 0);
  assert.match(await kept.locator('.badge.immutable').getAttribute('title'), /^Immutable: regfs\.immutable\[0\] \(repositories scratch\/\*\*, tags keep\)$/);
});

// --- htpasswd: the browser's Basic prompt, or the page's own form ---

async function htpasswd(browser, user, password) {
  // The browser answers the Basic challenge with what the user gave its prompt.
  const prompted = await browser.newContext({ httpCredentials: { username: user, password } });
  const page = await prompted.newPage();
  await open(page, '#/', `signed in as ${user}`);
  await page.getByRole('link', { name: 'hello', exact: true }).waitFor();
  await prompted.close();

  // A wrong password in the prompt (headless Chromium cannot cancel one): the page's form,
  // which refuses a wrong password and takes the right one.
  const cancelled = await browser.newContext({ httpCredentials: { username: user, password: 'nope' } });
  const form = await cancelled.newPage();
  const seen = watch(form);
  await open(form, '#/repo?name=library/hello', 'Sign in');
  await form.fill('input[name=user]', user);
  await form.fill('input[name=password]', 'wrong');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await form.getByText('refused').waitFor({ timeout: kTimeout });
  await form.fill('input[name=user]', user);
  await form.fill('input[name=password]', password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await form.locator('#tags').waitFor({ timeout: kTimeout });
  assert.match(form.url(), /name=library(%2F|\/)hello/, 'the deep link survives the sign-in');
  assert.deepEqual(seen.dialogs, []);
  await cancelled.close();
}

// --- token auth: the page asks the realm for tokens, as docker does ---

async function signIn(page, user, password) {
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// A DELETE sent through the page's own request code (the buttons are not there): the error
// the page would show, or 'deleted'.
function forcedDelete(page, path) {
  return page.evaluate(async (p) => {
    const api = await import('/ui/api.js');
    try {
      await api.remove(p);
      return 'deleted';
    } catch (error) {
      return `${error.status} ${error.message}`;
    }
  }, path);
}

async function token(browser, foreign) {
  const fresh = async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(kTimeout);
    return { context, page, seen: watch(page) };
  };

  // Anonymous: the UI's endpoints answer 401 with the realm's challenge; the page asks to sign in.
  let { context, page, seen } = await fresh();
  await open(page, '#/repo?name=library/hello', 'uses token auth');
  const anonymous = await page.evaluate(async () => Promise.all(
    ['/v2/_regfs/catalog', '/v2/_regfs/storage', '/v2/library/hello/_regfs/tags',
      '/v2/library/hello/_regfs/image/1.0', '/v2/library/hello/_regfs/files/1.0/hello.txt']
      .map(async (p) => { const r = await fetch(p); return [p, r.status, r.headers.get('www-authenticate')]; })));
  for (const [path, status, challenge] of anonymous) {
    assert.equal(status, 401, `${path} without a token`);
    assert.match(challenge, new RegExp(`^Bearer realm="${new URL('/token', base).href}"`), path);
  }
  // A wrong password: the realm refuses it.
  await signIn(page, 'viewer', 'wrong');
  await page.getByText('refused these credentials').waitFor();
  // viewer: browses (catalog, tags, an image, a file), sees no delete, and a forced one is refused.
  await signIn(page, 'viewer', 'view-secret');
  await page.locator('#tags').waitFor();
  assert.match(page.url(), /name=library(%2F|\/)hello/, 'the deep link survives the sign-in');
  await page.getByText('signed in as viewer').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0, 'no delete for viewer');
  await open(page, '#/', 'library/');
  await page.locator('.catalog').getByRole('link', { name: 'hello', exact: true }).waitFor();
  await open(page, '#/image?name=library/hello&ref=1.0&tab=files&path=/hello.txt');
  await page.locator('#preview', { hasText: 'hi' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0, 'no delete on the image page');
  await open(page, '#/repo?name=scratch/delete-me', 'old');
  assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
  assert.match(await forcedDelete(page, '/v2/scratch/delete-me/manifests/old'),
    /^401 viewer may not do this: the token realm did not grant repository:scratch\/delete-me:delete/);
  const tags = async (p) => p.evaluate(async () =>
    (await (await import('/ui/api.js')).getJson('/v2/scratch/delete-me/tags/list')).tags.sort());
  assert.deepEqual(await tags(page), ['keep', 'old'], 'the forced delete removed nothing');
  await untouched(page, seen, 'viewer');
  await context.close();

  // pusher may delete: the buttons are there and a tag goes.
  ({ context, page, seen } = await fresh());
  await open(page, '#/repo?name=scratch/delete-me', 'Sign in');
  await signIn(page, 'pusher', 'push-secret');
  const row = page.locator('#tags tbody tr', { hasText: 'old' });
  await row.getByRole('button', { name: 'Delete' }).click();
  await page.locator('dialog.confirm').getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached' });
  assert.deepEqual(await tags(page), ['keep']);
  await untouched(page, seen, 'pusher');
  await context.close();

  // A realm on another origin: the page cannot reach it and says so.
  ({ context, page, seen } = await fresh());
  await page.goto(new URL('/#/', foreign).href);
  await page.getByText('Sign in').first().waitFor();
  await signIn(page, 'pusher', 'push-secret');
  await page.getByText('is not this page\'s origin').waitFor();
  assert.equal(await page.locator('.catalog').count(), 0, 'no data without a token');
  await context.close();
}

// --- a catalog larger than a screen: drawn as it is shown ---

async function bigCatalog(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(kTimeout);
  const seen = watch(page);
  await open(page, '#/', '250 repositories');
  const rows = page.locator('.catalog li.repo');
  const more = page.getByRole('button', { name: /^Show more/ });
  assert.equal(await rows.count(), 0, 'many/ (250) starts closed, its rows not drawn');
  await page.locator('summary', { hasText: 'many/' }).click();
  await rows.nth(99).waitFor();
  assert.equal(await rows.count(), 100, 'opened: the first 100 rows');
  assert.equal(await more.textContent(), 'Show more (150 left here)');
  await more.click();
  await rows.nth(199).waitFor();
  await more.click();
  await rows.nth(249).waitFor();
  assert.equal(await more.count(), 0, 'all 250 drawn, nothing left');
  const names = await page.locator('.catalog li.repo a').allTextContents();
  assert.deepEqual(names, Array.from({ length: 250 }, (_, i) => `r${String(i).padStart(3, '0')}`),
    'in catalog order, each once');
  // Typing on narrows; deleting widens again.
  for (const [typed, count] of [['r2', 50], ['r24', 10], ['r', 100]]) {
    await page.fill('#filter', typed);
    await page.waitForFunction((n) => document.querySelectorAll('.catalog li.repo').length === n, count);
  }
  assert.equal(await more.textContent(), 'Show more (150 left here)', 'a filter matching all draws 100');
  await page.getByText('250 of 250 repositories match').waitFor();
  await untouched(page, seen, 'big catalog');
  await context.close();
}

async function main() {
  let browser;
  try {
    browser = await chromium.launch({ executablePath: kChromium, args: ['--no-sandbox'] });
  } catch (error) {
    console.error(`FAIL: Chromium (${kChromium}) does not start: ${error.message}`);
    process.exit(1);
  }
  let failed = 0;
  try {
    if (mode === 'htpasswd') {
      await htpasswd(browser, rest[0], rest[1]);
      console.log('ok - htpasswd sign-in (Basic prompt, then the form)');
    } else if (mode === 'catalog') {
      await bigCatalog(browser);
      console.log('ok - a catalog larger than a screen, drawn as it is shown');
    } else if (mode === 'token') {
      await token(browser, rest[0]);
      console.log('ok - token auth (the realm on the page\'s origin; another origin refused)');
    } else if (mode === 'browse') {
      const dir = rest[0];
      mkdirSync(dir, { recursive: true });
      for (const [name, fn] of checks) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
        const page = await context.newPage();
        page.setDefaultTimeout(kTimeout);
        const seen = watch(page);
        try {
          await fn({ page, dir, seen });
          await untouched(page, seen, name);
          console.log(`ok - ${name}`);
        } catch (error) {
          failed++;
          console.error(`FAIL - ${name}: ${error.message.split('\n').slice(0, 6).join(' | ')}`);
          await page.screenshot({ path: join(dir, `failed-${checks.findIndex(([n]) => n === name)}.png`), fullPage: true })
            .catch(() => {});
        }
        await context.close();
      }
    } else {
      console.error('usage: node ui.test.mjs browse URL DIR | catalog URL | htpasswd URL USER PASSWORD | token URL FOREIGN_URL');
      failed = 1;
    }
  } catch (error) {
    failed++;
    console.error(`FAIL: ${error.message}`);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

main();
