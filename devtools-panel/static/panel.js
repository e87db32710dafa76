// Boots the devtools page's wasm (its #[wasm_bindgen(start)] mounts the UI).
import init from './pkg/devtools.js';
init();
