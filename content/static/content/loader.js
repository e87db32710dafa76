// Paperclip content script: injected only on the user's request (toolbar
// popup, shortcut, context menu) through scripting.executeScript; nothing is
// added to any page before that.
//
// It puts the agent, an extension-origin iframe, inside a closed shadow root
// (page scripts can read neither the chat nor what is typed, page CSS cannot
// restyle it, and the page's CSP does not apply to it), and answers the
// background's ToContent messages: GetPageContext reads the page with
// extract.js (injected just before this file), Close removes the agent. Runs again on a second activation:
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

  const ok = (body) => ({ v: 1, body: { ok: body } });
  const err = (message) => ({ v: 1, body: { err: { kind: 'unknown_type', message } } });

  function onMessage(message, sender, sendResponse) {
    // Only our own background talks to this script; pages cannot reach it.
    if (sender.id !== api.runtime.id || sender.tab || message?.v !== 1) return false;
    switch (message.body?.type) {
      case 'Hello':
        sendResponse(ok({}));
        break;
      case 'GetPageContext':
        sendResponse(ok(globalThis.__paperclipExtract(document, globalThis)));
        break;
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
      api.runtime.onMessage.removeListener(onMessage);
      delete globalThis.__paperclipAgent;
    },
  };
  globalThis.__paperclipAgent = agent;
  frame.addEventListener('load', () => frame.focus(), { once: true });
  return true;
})();
