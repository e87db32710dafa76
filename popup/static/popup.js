// Boots the popup page's wasm (its #[wasm_bindgen(start)] mounts the UI).
import init from './pkg/popup.js';
init();
