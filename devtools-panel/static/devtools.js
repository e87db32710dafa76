// devtools_page: creates the Paperclip panel.
const api = globalThis.browser ?? globalThis.chrome;
api.devtools.panels.create('Paperclip', 'icons/16.png', 'panel.html');
