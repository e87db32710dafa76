// Paperclip's page reading, injected with loader.js on the user's request
// (and loaded by `cargo xtask bench agent` to time it). It decides nothing:
// it serialises the DOM into the stream `paperclip_core::extract` reads
// (records separated by "\0": "<tag" + "\x1f"-separated attributes, ">",
// "#text"), leaving out what the page does not show, never reading a form
// field's value or what is typed in an editable element (contenteditable,
// role=textbox), and at most MAX_CHARS characters, without recursion. The main content, headings and form labels are
// chosen by the core crate in the background.
// Defines one function in the content script's own (isolated) global.
globalThis.__paperclipRead = (doc, win, withDom) => {
  // Mirrors paperclip_core::extract::SKIP_TAGS.
  const SKIP = new Set(['script', 'style', 'noscript', 'template', 'svg', 'math', 'canvas',
    'iframe', 'object', 'embed', 'video', 'audio', 'head', 'paperclip-agent']);
  const MAX_DEPTH = 256;
  // The most characters serialised: a huge page is read up to here.
  const MAX_CHARS = 4000000;
  const HIDDEN_STYLE = /(^|;)\s*display\s*:\s*none\s*(!\s*important\s*)?(;|$)/i;
  const clean = (s) => (s.indexOf('\0') >= 0 || s.indexOf('\x1f') >= 0 ? s.replace(/[\0\x1f]/g, '') : s);
  // What the user is typing (webmail drafts, chat editors) is never read,
  // like a form field's value.
  const editable = (n, role) => {
    const ce = n.getAttribute('contenteditable');
    return (ce !== null && ce.toLowerCase() !== 'false') || role === 'textbox' || role === 'searchbox';
  };
  const out = [];
  let size = 0;
  const push = (s) => { out.push(s); size += s.length; };
  // An explicit stack, not recursion: a page 100,000 elements deep cannot
  // overflow it. Each frame: the next child to visit, the depth of its
  // children, and whether its element's record was written (then '>'
  // closes it). Past MAX_DEPTH, elements are read flat (text only).
  const walk = (root) => {
    const stack = [{ next: root.firstChild, depth: 1, closes: false }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const n = top.next;
      if (!n || size > MAX_CHARS) {
        stack.pop();
        if (top.closes) out.push('>');
        continue;
      }
      top.next = n.nextSibling;
      const type = n.nodeType;
      if (type === 3) {
        push('#' + (n.data.indexOf('\0') >= 0 ? n.data.replace(/\0/g, '') : n.data));
        continue;
      }
      if (type !== 1) continue;
      const tag = n.localName;
      // The inline style is read as text: `n.style` would build a style
      // object for every element of the page.
      const inline = n.getAttribute('style');
      const role = n.getAttribute('role');
      if (SKIP.has(tag) || n.hidden || n.getAttribute('aria-hidden') === 'true'
        || (inline && HIDDEN_STYLE.test(inline)) || (tag === 'input' && n.type === 'hidden')
        || editable(n, role)) continue;
      if (top.depth >= MAX_DEPTH) {
        stack.push({ next: n.firstChild, depth: top.depth, closes: false });
        continue;
      }
      let rec = '<' + tag;
      if (n.id) rec += '\x1fi' + clean(n.id);
      const cls = n.getAttribute('class');
      if (cls) rec += '\x1fc' + clean(cls);
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
        push(rec);
        out.push('>');
        continue;
      }
      push(rec);
      stack.push({ next: n.firstChild, depth: top.depth + 1, closes: true });
    }
  };
  let dom = null;
  if (withDom && doc.body) {
    out.push('<body');
    walk(doc.body);
    out.push('>');
    // The rest of a page past the bound was not read: the core says so.
    if (size > MAX_CHARS) out.push('!cut');
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
      if (!el || el.closest('paperclip-agent') || seen.has(el)
        || el.closest('[contenteditable]:not([contenteditable="false" i]), [role=textbox], [role=searchbox]')) continue;
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
