// Agent benchmark, page part: the time Paperclip's page reading takes on
// generated pages of about 100 KB and 1 MB of HTML, rendered in an iframe:
// content/extract.js (the exact file injected into pages) serialising the
// DOM and reading the viewport (layout included), then the core crate's
// extraction in wasm (what the background runs on it).
//
// `window.runExtractBench(config)` resolves to {rows: [...], sizes: {...}}.

import init, { extractPage } from './pkg/paperclip_bench.js';

import { log, percentile } from './common.js';

/** A deterministic article-like page of about `bytes` bytes of HTML. */
function page(bytes) {
  const words = ('paper clip wire loop steel office history design patent gem spring ' +
    'sheet fasten bend shape metal desk document holder useful simple').split(' ');
  let seed = 7;
  const word = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return words[seed % words.length]; };
  const sentence = () => Array.from({ length: 14 }, word).join(' ') + '.';
  const parts = ['<!doctype html><html><head><title>Generated</title></head><body>',
    '<header class="site-header"><nav><a href="/">Home</a> <a href="/a">About</a></nav></header>',
    '<div class="cookie-banner">We use cookies.</div><div class="layout"><aside class="sidebar"><ul>',
    ...Array.from({ length: 30 }, (_, k) => `<li><a href="/t/${k}">Trending story ${k}</a></li>`),
    '</ul></aside><main><article><h1>Generated page</h1>'];
  let size = parts.join('').length;
  let n = 0;
  while (size < bytes) {
    const chunk = n % 10 === 0
      ? `<h2>Section ${n}</h2>`
      : n % 7 === 0
        ? `<ul><li>${sentence()}</li><li>${sentence()}</li></ul>`
        : n % 29 === 0
          ? '<div class="ad-slot">Advertisement: buy paper clips</div>'
          : n % 13 === 0
          ? `<table><tr><td>${word()}</td><td>${sentence()}</td></tr></table>`
          : `<p>${sentence()} ${sentence()} ${sentence()}</p>`;
    parts.push(chunk);
    size += chunk.length;
    n++;
  }
  parts.push('</article></main></div><footer>Footer text</footer></body></html>');
  return parts.join('');
}

async function frameWith(html) {
  const frame = document.createElement('iframe');
  frame.style.cssText = 'width: 1024px; height: 768px; border: 0';
  document.body.append(frame);
  await new Promise((resolve) => { frame.onload = resolve; frame.srcdoc = html; });
  return frame;
}

export async function runExtractBench(overrides) {
  await init();
  const cfg = { n: 30, warmup: 3, sizes: { extract_100kb: 100_000, extract_1mb: 1_000_000 }, ...(overrides || {}) };
  const rows = [];
  const sizes = {};
  for (const [kase, bytes] of Object.entries(cfg.sizes)) {
    const html = page(bytes);
    sizes[kase] = html.length;
    const frame = await frameWith(html);
    const total = [];
    const walk = [];
    const core = [];
    let blocks = 0;
    let streamBytes = 0;
    for (let i = 0; i < cfg.warmup + cfg.n; i++) {
      // A fresh layout each time, as on a page the user just opened.
      frame.contentDocument.body.style.display = i % 2 ? '' : 'block';
      const t0 = performance.now();
      const read = globalThis.__paperclipRead(frame.contentDocument, frame.contentWindow, true);
      const t1 = performance.now();
      blocks = extractPage(read.dom);
      const t2 = performance.now();
      streamBytes = read.dom.length;
      if (i >= cfg.warmup) {
        total.push(t2 - t0);
        walk.push(t1 - t0);
        core.push(t2 - t1);
      }
    }
    // Of the page's part: what is on screen alone (elementFromPoint, with
    // the layout it forces), without serialising the DOM.
    const screen = [];
    for (let i = 0; i < cfg.warmup + cfg.n; i++) {
      frame.contentDocument.body.style.display = i % 2 ? '' : 'block';
      const t0 = performance.now();
      globalThis.__paperclipRead(frame.contentDocument, frame.contentWindow, false);
      if (i >= cfg.warmup) screen.push(performance.now() - t0);
    }
    frame.remove();
    for (const [impl, samples] of [['paperclip', total], ['paperclip: DOM walk (extract.js)', walk],
      ['paperclip: … of which on screen (layout)', screen], ['paperclip: core extract (wasm)', core]]) {
      samples.sort((a, b) => a - b);
      rows.push({ case: kase, impl, n: samples.length,
        p50_ms: percentile(samples, 50), p95_ms: percentile(samples, 95), p99_ms: percentile(samples, 99) });
    }
    log(`${kase}: ${html.length} bytes of HTML, ${streamBytes} of stream, ${blocks} blocks`);
  }
  return { rows, sizes };
}

window.runExtractBench = runExtractBench;
