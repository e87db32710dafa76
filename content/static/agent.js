// Boots the agent page's wasm (its #[wasm_bindgen(start)] mounts the UI).
import init from './pkg/agent.js';
init();
