// The web UI timed in headless Chromium (Debian's /usr/bin/chromium, driven by the
// playwright-core that tests/browser pins), for bench.py's ui section:
//   node bench/ui_browser.mjs URL CATALOG_TOTAL TAG_REPO TAG_TOTAL ROUNDS
// Each round opens a new browser context (nothing cached) and times, on the Node side, from
// the navigation's start until the view shows what it must:
//   catalog: the catalog's tree and its count of CATALOG_TOTAL repositories;
//   tags: TAG_REPO's first page by push date, its newest tag first, "of TAG_TOTAL tags";
// and, in the page, from setting the catalog's filter (an input event, as typing sends) to the
// first frame painted after the list changed: filter.
// Prints one JSON object: {"catalog_ms": [...], "tags_ms": [...], "filter_ms": [...]}. A view
// that does not show what it must within 20 s fails the run (exit 1), as does a Chromium that
// cannot start.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, catalogTotal, tagRepo, tagTotal, roundsArg] = process.argv.slice(2);
const kChromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kTimeout = 20000;
const rounds = Number(roundsArg ?? 3);
// What is typed into the filter, a key at a time, then removed again.
const kTyped = ['b', 'be', 'ben', 'benc', 'bench', 'bench/', 'bench/t', 'r', 'r0', 'r00', 'r001', ''];

async function newestTag() {
  const r = await fetch(new URL(`/v2/${tagRepo}/_regfs/tags?sort=pushed&n=1`, base));
  assert.equal(r.status, 200, 'the tags endpoint answers');
  return (await r.json()).tags[0].tag;
}

async function timeCatalog(page) {
  const t0 = performance.now();
  await page.goto(new URL('/#/', base).href);
  await page.locator('.catalog li').first().waitFor({ timeout: kTimeout });
  await page.getByText(`${catalogTotal} repositories`, { exact: false }).first().waitFor({ timeout: kTimeout });
  return performance.now() - t0;
}

async function timeTags(page, newest) {
  const t0 = performance.now();
  await page.goto(new URL(`/#/repo?name=${encodeURIComponent(tagRepo)}`, base).href);
  await page.locator('#tags a.tag').first().waitFor({ timeout: kTimeout });
  await page.getByText(`of ${tagTotal} tags`, { exact: false }).waitFor({ timeout: kTimeout });
  const t = performance.now() - t0;
  assert.equal(await page.locator('#tags a.tag').first().textContent(), newest,
    'the first row is the tag pushed last');
  return t;
}

// In the page: each value as typed, timed to the first frame after the list is redrawn.
async function timeFilter(page) {
  return page.evaluate(async (typed) => {
    const input = document.querySelector('#filter');
    const times = [];
    for (const q of typed) {
      const t0 = performance.now();
      input.value = q;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
      times.push(performance.now() - t0);
    }
    return times;
  }, kTyped);
}

const browser = await chromium.launch({
  executablePath: kChromium,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const out = { catalog_ms: [], tags_ms: [], filter_ms: [] };
  const newest = await newestTag();
  for (let i = 0; i < rounds; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    out.catalog_ms.push(await timeCatalog(page));
    out.filter_ms.push(...await timeFilter(page));
    // The filter worked: one repository matches the last value before it was cleared.
    await page.evaluate(() => {
      const input = document.querySelector('#filter');
      input.value = 'r00123';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    assert.equal(await page.locator('.catalog li.repo').count(), 1, 'the filter leaves one repository');
    out.tags_ms.push(await timeTags(page, newest));
    assert.deepEqual(errors, [], 'no errors in the page');
    await context.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
