// Paperclip content script: injected only on the user's request (toolbar
// popup, shortcut, context menu) through scripting.executeScript; nothing is
// added to any page before that.
//
// It puts the agent, an extension-origin iframe, inside a closed shadow root
// (page scripts can read neither the chat nor what is typed, page CSS cannot
// restyle it, and the page's CSP does not apply to it), and answers the
// background's ToContent messages: Hello confirms the token this loader
// handed its own frame, GetPageContext reads the page with extract.js
// (injected just before this file; the DOM only when it changed), Close
// removes the agent. Runs again on a second activation: then it only
// brings the agent back.
//
// The loader and its frame talk over a MessageChannel whose port goes only
// to the extension's origin: nothing is posted to the page, and the page
// can neither read nor forge these messages. The first message on it is a
// random token, which the frame puts in its port's name; the background
// serves the agent port only when this loader confirms that token (Hello),
// so no other frame in the tab (the page's own agent.html, an ad) can get
// an agent.
(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  if (globalThis.__paperclipAgent) {
    globalThis.__paperclipAgent.show();
    return true;
  }

  const host = document.createElement('paperclip-agent');
  host.setAttribute('style', [
    'all: initial', 'position: fixed', 'right: 16px', 'bottom: 16px',
    'width: 380px', 'height: 560px', 'max-height: calc(100vh - 32px)',
    'max-width: calc(100vw - 32px)', 'z-index: 2147483646', 'display: block',
  ].map((d) => d + ' !important').join(';'));
  const root = host.attachShadow({ mode: 'closed' });
  const style = document.createElement('style');
  style.textContent = `iframe { all: initial; width: 100%; height: 100%; border: 0;
    border-radius: 14px; box-shadow: 0 8px 32px rgba(0,0,0,.28); color-scheme: normal; }`;
  const frame = document.createElement('iframe');
  frame.src = api.runtime.getURL('agent.html');
  frame.title = 'Clippy assistant';
  // The Copy buttons of code blocks write to the clipboard from the frame.
  frame.allow = 'clipboard-write';
  root.append(style, frame);
  document.documentElement.append(host);

  // The page may remove or restyle the agent: it is put back as it was.
  const hostStyle = host.getAttribute('style');
  let position = { right: 16, bottom: 16 };
  const guard = new MutationObserver(() => {
    if (!host.isConnected) document.documentElement.append(host);
    if (host.getAttribute('style') !== placed()) host.setAttribute('style', placed());
    for (const a of ['hidden', 'class']) if (host.hasAttribute(a)) host.removeAttribute(a);
  });
  guard.observe(document.documentElement, { childList: true });
  guard.observe(host, { attributes: true, attributeFilter: ['style', 'hidden', 'class'] });
  const placed = () => hostStyle
    .replace(/right: 16px/, `right: ${position.right}px`)
    .replace(/bottom: 16px/, `bottom: ${position.bottom}px`);

  // The private channel to the frame, and the token it presents.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  let channel = null;

  // Whether the page changed since its DOM was last sent. The observer
  // only raises the flag and stops listening: a busy page costs one
  // callback per read, not one per mutation.
  const page = {
    dirty: true,
    url: '',
    observer: new MutationObserver(() => {
      page.dirty = true;
      page.observer.disconnect();
    }),
    watch() {
      page.dirty = false;
      page.url = location.href;
      page.observer.disconnect();
      if (document.body) {
        page.observer.observe(document.body, { childList: true, subtree: true, characterData: true });
      }
    },
  };

  const ok = (body) => ({ v: 1, body: { ok: body } });
  const err = (message) => ({ v: 1, body: { err: { kind: 'unknown_type', message } } });

  function onMessage(message, sender, sendResponse) {
    // Only our own background talks to this script; pages cannot reach it.
    if (sender.id !== api.runtime.id || sender.tab || message?.v !== 1) return false;
    switch (message.body?.type) {
      case 'Hello':
        // Only for the frame this loader made (it alone has the token).
        if (message.body.token === token) sendResponse(ok({}));
        else sendResponse({ v: 1, body: { err: { kind: 'forbidden', message: 'not this agent' } } });
        break;
      case 'GetPageContext': {
        // The DOM is serialised again only when the page changed since the
        // last read (or the background asks for it: it lost its copy).
        const fresh = message.body.fresh === true || page.dirty || page.url !== location.href;
        const read = globalThis.__paperclipRead(document, globalThis, fresh);
        if (fresh) page.watch();
        sendResponse(ok(read));
        break;
      }
      case 'Close':
        agent.remove();
        sendResponse(ok({}));
        break;
      default:
        sendResponse(err(`unknown message type \`${message.body?.type}\``));
    }
    return false;
  }
  api.runtime.onMessage.addListener(onMessage);

  const agent = {
    show() {
      if (!host.isConnected) document.documentElement.append(host);
      host.setAttribute('style', placed());
      frame.focus();
    },
    remove() {
      guard.disconnect();
      host.remove();
      page.observer.disconnect();
      channel?.port1.close();
      document.removeEventListener('selectionchange', onSelection);
      clearTimeout(looking);
      api.runtime.onMessage.removeListener(onMessage);
      delete globalThis.__paperclipAgent;
    },
  };
  globalThis.__paperclipAgent = agent;
  // On each load (a frame put back into the page loads again), the frame
  // gets its end of a new channel (posted to the extension's origin only),
  // then the token on it.
  const origin = new URL(api.runtime.getURL('')).origin;
  frame.addEventListener('load', () => {
    channel?.port1.close();
    channel = new MessageChannel();
    channel.port1.onmessage = onFrameMessage;
    frame.contentWindow?.postMessage({ paperclip: 'channel' }, origin, [channel.port2]);
    channel.port1.postMessage({ paperclip: 'token', token });
    frame.focus();
  });

  // The frame moves the agent (a drag, arrow keys, or the place remembered
  // for this site) and is told what the user highlights. Only coordinates
  // travel this way, and only over the channel.
  const tell = (message) => channel?.port1.postMessage(message);
  function onFrameMessage(event) {
    const m = event.data;
    if (m?.paperclip !== 'place' || !Number.isFinite(m.right) || !Number.isFinite(m.bottom)) return;
    // Keep the whole agent on screen.
    const box = host.getBoundingClientRect();
    const right = Math.round(Math.max(0, Math.min(m.right, innerWidth - box.width)));
    const bottom = Math.round(Math.max(0, Math.min(m.bottom, innerHeight - box.height)));
    position = { right, bottom };
    host.setAttribute('style', placed());
    tell({ paperclip: 'placed', right, bottom, save: m.save === true });
  }
  let looking = 0;
  function onSelection() {
    clearTimeout(looking);
    looking = setTimeout(() => {
      const selection = getSelection();
      if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
      const r = selection.getRangeAt(0).getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      // From the character, drawn in the frame's top-left corner.
      const box = host.getBoundingClientRect();
      tell({ paperclip: 'look', dx: r.left + r.width / 2 - (box.left + 36), dy: r.top + r.height / 2 - (box.top + 46) });
    }, 250);
  }
  document.addEventListener('selectionchange', onSelection);
  return true;
})();
