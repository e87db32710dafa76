// Boots the agent page's wasm (its #[wasm_bindgen(start)] mounts the UI).
//
// Before that, it listens for its loader's private channel: the loader
// posts it (to this page's origin only) when the frame has loaded, which
// may be before the wasm runs. `__paperclipChannel` resolves with the
// port; the token waits on it until the agent reads it. A page that embeds
// agent.html by itself never sends one.
globalThis.__paperclipChannel = new Promise((resolve) => {
  addEventListener('message', (event) => {
    if (event.source === parent && parent !== window && event.data?.paperclip === 'channel'
      && event.ports?.length === 1) resolve(event.ports[0]);
  });
});

// The agent ignores input while the page covers it or makes it see-through
// (a decoy laid over it, or the page faded, would turn the user's clicks
// into the agent's actions). Chromium's IntersectionObserver v2 tells when
// the frame is really visible; until it has said so, input waits. Moving
// and closing Clippy always work, so that it can be moved clear. Where the
// browser cannot tell (Firefox), input is always taken. `null`: not known
// yet (input waits, but the agent does not say it is covered).
const canTell = 'isVisible' in (globalThis.IntersectionObserverEntry?.prototype ?? {});
globalThis.__paperclipVisible = canTell ? null : true;
if (canTell) {
  const observer = new IntersectionObserver((entries) => {
    const visible = entries[entries.length - 1].isVisible === true;
    if (visible === globalThis.__paperclipVisible) return;
    globalThis.__paperclipVisible = visible;
    dispatchEvent(new Event('paperclip-visibility'));
  }, { trackVisibility: true, delay: 100, threshold: [0, 1] });
  const watch = () => observer.observe(document.body);
  if (document.body) watch(); else addEventListener('DOMContentLoaded', watch);
  const always = 'button.move, button.close';
  const guard = (event) => {
    if (globalThis.__paperclipVisible === true || event.target?.closest?.(always)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
  };
  for (const type of ['pointerdown', 'mousedown', 'click', 'dblclick', 'auxclick', 'keydown',
    'beforeinput', 'paste', 'drop', 'submit', 'contextmenu']) {
    addEventListener(type, guard, { capture: true });
  }
}
import init from './pkg/agent.js';
init();
