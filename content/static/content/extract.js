// Paperclip's page reading, injected with loader.js on the user's request
// (and loaded by `cargo xtask bench agent` to time it): the main content's
// text blocks in reading order, skipping navigation, headers, footers,
// asides and hidden elements; the headings; the selection; title and URL.
// Defines one function in the content script's own (isolated) global.
globalThis.__paperclipExtract = (doc, win) => {
  const SKIP = 'nav, header, footer, aside, script, style, noscript, template, [hidden], [aria-hidden="true"], paperclip-agent';
  const BLOCKS = 'p, li, blockquote, pre, td, th, dd, dt, figcaption, summary';
  const text = (el) => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim();
  const main = doc.querySelector('main, article, [role="main"]') || doc.body;
  const blocks = [];
  for (const el of main.querySelectorAll(BLOCKS)) {
    if (el.closest(SKIP) || el.parentElement?.closest(BLOCKS)) continue;
    const t = text(el);
    if (t) blocks.push(t);
  }
  if (blocks.length === 0 && main) blocks.push(text(main));
  const headings = [...doc.querySelectorAll('h1, h2, h3')]
    .filter((h) => !h.closest('nav, footer, paperclip-agent'))
    .map(text)
    .filter(Boolean);
  return {
    url: doc.location.href,
    title: doc.title,
    selection: String(win.getSelection?.() ?? ''),
    headings,
    blocks,
  };
};
