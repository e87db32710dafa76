// Paperclip content script: injected only on the user's request (toolbar
// popup, shortcut, context menu) through scripting.executeScript; nothing is
// added to any page before that.
//
// It puts the agent, an extension-origin iframe, inside a closed shadow root
// (page scripts can read neither the chat nor what is typed, page CSS cannot
// restyle it, and the page's CSP does not apply to it), and answers the
// background's ToContent messages: GetPageContext reads the page with
// extract.js (injected just before this file; the DOM only when it changed), Close removes the agent. Runs again on a second activation:
// then it only brings the agent back.
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
        sendResponse(ok({}));
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
    show() { host.style.setProperty('display', 'block', 'important'); frame.focus(); },
    remove() {
      host.remove();
      page.observer.disconnect();
      removeEventListener('message', onFrameMessage);
      document.removeEventListener('selectionchange', onSelection);
      clearTimeout(looking);
      api.runtime.onMessage.removeListener(onMessage);
      delete globalThis.__paperclipAgent;
    },
  };
  globalThis.__paperclipAgent = agent;
  frame.addEventListener('load', () => frame.focus(), { once: true });

  // The frame moves the agent (a drag, arrow keys, or the place remembered
  // for this site) and is told what the user highlights. Only coordinates
  // travel this way; only our own frame is listened to.
  const origin = new URL(api.runtime.getURL('')).origin;
  const tell = (message) => frame.contentWindow?.postMessage(message, origin);
  function onFrameMessage(event) {
    if (event.source !== frame.contentWindow || event.origin !== origin) return;
    const m = event.data;
    if (m?.paperclip !== 'place' || !Number.isFinite(m.right) || !Number.isFinite(m.bottom)) return;
    // Keep the whole agent on screen.
    const box = host.getBoundingClientRect();
    const right = Math.round(Math.max(0, Math.min(m.right, innerWidth - box.width)));
    const bottom = Math.round(Math.max(0, Math.min(m.bottom, innerHeight - box.height)));
    host.style.setProperty('right', right + 'px', 'important');
    host.style.setProperty('bottom', bottom + 'px', 'important');
    tell({ paperclip: 'placed', right, bottom, save: m.save === true });
  }
  addEventListener('message', onFrameMessage);
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
