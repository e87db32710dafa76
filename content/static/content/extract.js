// Paperclip's page reading, injected with loader.js on the user's request
// (and loaded by `cargo xtask bench agent` to time it). It decides nothing:
// it serialises the DOM into the stream `paperclip_core::extract` reads
// (records separated by "\0": "<tag" + "\x1f"-separated attributes, ">",
// "#text"), leaving out what the page does not show and never reading a
// form field's value. The main content, headings and form labels are
// chosen by the core crate in the background.
// Defines one function in the content script's own (isolated) global.
globalThis.__paperclipRead = (doc, win, withDom) => {
  // Mirrors paperclip_core::extract::SKIP_TAGS.
  const SKIP = new Set(['script', 'style', 'noscript', 'template', 'svg', 'math', 'canvas',
    'iframe', 'object', 'embed', 'video', 'audio', 'head', 'paperclip-agent']);
  const MAX_DEPTH = 256;
  const HIDDEN_STYLE = /(^|;)\s*display\s*:\s*none\s*(!\s*important\s*)?(;|$)/i;
  const clean = (s) => (s.indexOf('\0') >= 0 || s.indexOf('\x1f') >= 0 ? s.replace(/[\0\x1f]/g, '') : s);
  const out = [];
  const visit = (el, depth) => {
    for (let n = el.firstChild; n; n = n.nextSibling) {
      const type = n.nodeType;
      if (type === 3) {
        out.push('#' + (n.data.indexOf('\0') >= 0 ? n.data.replace(/\0/g, '') : n.data));
      } else if (type === 1) {
        const tag = n.localName;
        // The inline style is read as text: `n.style` would build a style
        // object for every element of the page.
        const inline = n.getAttribute('style');
        if (SKIP.has(tag) || n.hidden || n.getAttribute('aria-hidden') === 'true'
          || (inline && HIDDEN_STYLE.test(inline)) || (tag === 'input' && n.type === 'hidden')) continue;
        if (depth >= MAX_DEPTH) { visit(n, depth); continue; }
        let rec = '<' + tag;
        if (n.id) rec += '\x1fi' + clean(n.id);
        const cls = n.getAttribute('class');
        if (cls) rec += '\x1fc' + clean(cls);
        const role = n.getAttribute('role');
        if (role) rec += '\x1fr' + clean(role);
        if (tag === 'label' && n.htmlFor) rec += '\x1ff' + clean(n.htmlFor);
        if (tag === 'input' || tag === 'select' || tag === 'textarea') {
          // Labels only: type, aria-label, placeholder and name; never value.
          if (tag === 'input') rec += '\x1ft' + clean(n.type);
          const label = n.getAttribute('aria-label');
          if (label) rec += '\x1fl' + clean(label);
          const placeholder = n.getAttribute('placeholder');
          if (placeholder) rec += '\x1fp' + clean(placeholder);
          if (n.name) rec += '\x1fn' + clean(n.name);
          out.push(rec, '>');
          continue;
        }
        out.push(rec);
        visit(n, depth + 1);
        out.push('>');
      }
    }
  };
  let dom = null;
  if (withDom && doc.body) {
    out.push('<body');
    visit(doc.body, 1);
    out.push('>');
    dom = out.join('\0');
  }

  // What is on screen: the blocks under a grid of points (the core keeps
  // those of the main content), and how far the page is scrolled.
  const visible = [];
  const seen = new Set();
  const BLOCK = 'p, li, h1, h2, h3, h4, h5, h6, pre, blockquote, td, th, dd, dt, figcaption';
  for (let y = 0.05; y < 1; y += 0.075) {
    for (const x of [0.3, 0.5]) {
      const hit = doc.elementFromPoint?.(win.innerWidth * x, win.innerHeight * y);
      const el = hit?.closest?.(BLOCK);
      if (!el || el.closest('paperclip-agent') || seen.has(el)) continue;
      seen.add(el);
      const t = (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 600);
      if (t) visible.push(t);
    }
  }
  const range = Math.max(1, (doc.documentElement?.scrollHeight || 0) - win.innerHeight);
  const meta = doc.querySelector('meta[name="description" i]');
  return {
    url: doc.location.href,
    title: doc.title,
    description: meta?.getAttribute('content') || '',
    selection: String(win.getSelection?.() ?? ''),
    viewport: {
      scrolled_percent: Math.max(0, Math.min(100, Math.round(100 * win.scrollY / range))),
      visible,
    },
    dom,
  };
};
