// Paperclip background bootstrap (Chrome service worker / Firefox event page).
// Every listener is registered synchronously at top level, so the first event
// after a cold start is not lost; each waits for the wasm to be ready.
import init, * as bg from './pkg/background.js';

const api = globalThis.browser ?? globalThis.chrome;
const ready = init().then(() => bg.start());
const fail = (e) => ({ v: 1, body: { err: { kind: 'failed', message: String(e) } } });
const later = (handler) => (...args) => {
  ready.then(() => handler(...args)).catch((e) => console.error('paperclip:', e));
};

api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  ready.then(() => bg.on_message(message, sender)).then(sendResponse, (e) => sendResponse(fail(e)));
  return true;
});
api.runtime.onMessageExternal.addListener((message, sender, sendResponse) => {
  ready.then(() => sendResponse(bg.on_message_external(message, sender)));
  return true;
});
api.runtime.onConnect.addListener(later(bg.on_connect));
api.runtime.onConnectExternal.addListener((port) => port.disconnect());
api.runtime.onInstalled.addListener(later(bg.on_installed));
// The shortcut's and the context menu's listeners, named: a headless
// browser gives a test no way to press a browser shortcut or click a browser
// menu, so the end-to-end tests call these from the background's own realm,
// with the arguments the browser passes (only the extension's own contexts
// can reach the background's globals).
const listeners = Object.freeze({
  onCommand: later(bg.on_command),
  onMenuClicked: later(bg.on_menu),
});
globalThis.paperclipListeners = listeners;
api.commands.onCommand.addListener(listeners.onCommand);
api.contextMenus.onClicked.addListener(listeners.onMenuClicked);
api.alarms.onAlarm.addListener(later(bg.on_alarm));
api.storage.onChanged.addListener(later(bg.on_storage_changed));
