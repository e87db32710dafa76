// Test-only (copied into target/e2e-ext, never into dist): a stand-in for
// Chrome's on-device AI, loaded into the agent's page by the e2e test as
// <script src="test/device.js" data-mode="absent|present"> so that it runs
// in the page's own global (Firefox runs WebDriver scripts apart from it).
// "absent" removes the real APIs where the browser has them; "present"
// installs: French detected; a translator that needs a download (progress
// 0, 50 %, 100 %) until it was created once; a ready summarizer. What was
// created is written to <html data-device-created>, readable from anywhere.
(() => {
  const mode = document.currentScript.dataset.mode;
  const names = ['Translator', 'LanguageDetector', 'Summarizer'];
  const root = document.documentElement;
  root.dataset.deviceHad = JSON.stringify(names.filter((n) => n in window && window[n]));
  for (const n of names) {
    Object.defineProperty(window, n, { value: undefined, configurable: true, writable: true });
  }
  if (mode === 'present') {
    const created = [];
    const record = () => { root.dataset.deviceCreated = JSON.stringify(created); };
    record();
    const wait = (ms) => new Promise((r) => setTimeout(r, ms));
    const fire = async (o) => {
      if (!o || !o.monitor) return;
      const t = new EventTarget();
      o.monitor(t);
      for (const loaded of [0, 0.5, 1]) {
        const e = new Event('downloadprogress');
        e.loaded = loaded;
        t.dispatchEvent(e);
        await wait(700);
      }
    };
    window.LanguageDetector = {
      availability: async () => 'available',
      create: async () => ({ detect: async () => [{ detectedLanguage: 'fr', confidence: 0.97 }] }),
    };
    window.Translator = {
      availability: async () => (created.length ? 'available' : 'downloadable'),
      create: async (o) => {
        created.push({ source: o.sourceLanguage, target: o.targetLanguage });
        record();
        await fire(o);
        return { translate: async (t) => '[EN] ' + t, destroy() {} };
      },
    };
    window.Summarizer = {
      availability: async () => 'available',
      create: async () => ({
        summarize: async (t) => 'Device summary of ' + t.length + ' characters.',
        destroy() {},
      }),
    };
    // The test empties the record to start the download offer again.
    root.addEventListener('device-reset', () => { created.length = 0; record(); });
  }
  root.dataset.deviceStandIn = mode;
})();
