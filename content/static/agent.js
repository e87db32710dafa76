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
import init from './pkg/agent.js';
init();
