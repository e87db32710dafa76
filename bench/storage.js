// Storage benchmark: Paperclip's engine (Rust/wasm), raw IndexedDB and Dexie
// doing the same work on the same deterministic data.
//
// `window.runStorageBench(config)` resolves to
//   {rows: [{case, impl, n, p50_ms, p95_ms, p99_ms}],
//    import_per_s: {impl: conversations per second},
//    usage: {paperclip_bytes, raw_idb_bytes, dexie_bytes, <impl>_before_bytes},
//    notes: [string]}
// and appends progress lines to `window.benchLog`.
//
// Phases (config.phases): "timing" runs every case with the three adapters
// interleaved (a fresh random order per iteration, so none always goes
// first); "usage" fills each adapter in turn with 10,000 conversations and
// 100,000 cache entries and reads navigator.storage.estimate(). Usage is
// origin-wide: `cargo xtask bench storage` runs the usage phase of each
// adapter in a fresh browser profile.
//
// Plain ES module, no bundler: served as-is next to dexie.mjs and
// pkg/paperclip_bench.js (built by `cargo xtask bench storage`).

import Dexie from './dexie.mjs';

/** Defaults; every key can be overridden by `runStorageBench(config)`. */
export const DEFAULTS = {
  seed: 20251128,
  adapters: ['paperclip', 'raw-idb', 'dexie'],
  phases: ['timing', 'usage'],
  n: 200, // recorded iterations per case...
  warmup: 10, // ...after this many unrecorded ones
  list_n: 100,
  list_warmup: 5,
  list_limit: 50,
  import_runs: 5,
  import_warmup: 1,
  import_size: 1000,
  messages: 20, // per generated conversation
  conversations: 10000, // store size for "list" and for the usage check
  cache_entries: 100000, // for the usage check
  cache_value_chars: 200,
  fill_chunk: 1000, // conversations per bulk import when filling
};

/** Case names, in the order they run. */
export const CASES = [
  'save', 'load', 'append', 'cache_put', 'cache_get_persistent', 'cache_get_memory',
  'list_50_of_10000', 'import_1000',
];

const BASE_MS = 1764336000000; // 2025-11-28, the generated conversations' epoch
const DAY_MS = 86400000;
const DB_PREFIX = 'paperclip-bench-';

window.benchLog = window.benchLog || [];
let started = performance.now();

/** Appends a progress line (seconds since the run started) to window.benchLog. */
function log(message) {
  const line = `[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`;
  window.benchLog.push(line);
  console.log(line);
}

// ---------------------------------------------------------------------------
// Deterministic data

/** mulberry32: a tiny seeded PRNG; returns floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = `the of and to in is that it for on with as this be are by from at or an
page clip paper you can your which we will not have more has one all also but its these
their they about text summary section article answer question example reading browser
extension storage conversation message data model result value search index cache memory
database record transaction request response version format file import export list
document heading paragraph selection context provider offline local user assistant agent
simple quick clear short long first last next previous main important useful common
general specific related different similar several many most some each other only just
because however therefore while where when what how why who whose whom then than there
here after before during between under over through into onto upon within without
explains describes shows suggests compares measures builds writes reads keeps stores loads
saves finds returns counts checks sorts groups merges splits joins opens closes starts
ends runs tests works fails helps makes takes gives uses needs wants looks seems means
time day week year number part point case fact way thing place work world system group
problem service report study field rate level area book story idea issue reason method
table figure chart source author title topic term note link site web online network
library project design feature option setting default change update release support
performance speed size limit quota cost token price budget plan step stage phase goal
history record archive backup restore sync device screen window panel button menu dialog
fast slow small large high low early late open closed full empty new old good better best`
  .split(/\s+/);

const SITES = [
  'https://en.wikipedia.org', 'https://developer.mozilla.org', 'https://news.ycombinator.com',
  'https://www.rust-lang.org', 'https://docs.rs', 'https://github.com', 'https://example.org',
  'https://www.bbc.co.uk', 'https://arxiv.org', 'https://stackoverflow.com',
  'https://www.nytimes.com', 'https://blog.example.com', 'https://web.dev',
  'https://www.theguardian.com', 'https://lwn.net', 'https://www.nature.com',
];

/** A seeded generator of the values the conversations are made of. */
class Gen {
  constructor(seed) { this.next = mulberry32(seed); }
  int(n) { return Math.floor(this.next() * n); }
  pick(list) { return list[this.int(list.length)]; }
  /** A UUID-shaped id (v4 layout) from the seeded stream. */
  uuid() {
    let hex = '';
    for (let i = 0; i < 4; i++) hex += (Math.floor(this.next() * 4294967296) >>> 0).toString(16).padStart(8, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
  /** Sentences of words, `min`..`max` characters long. */
  text(min, max) {
    const target = min + this.int(max - min - 15);
    let out = '';
    let left = 0; // words left in the current sentence
    while (out.length < target) {
      let word = this.pick(WORDS);
      if (left === 0) {
        left = 6 + this.int(11);
        word = word[0].toUpperCase() + word.slice(1);
        out += out ? ' ' : '';
      } else {
        out += ' ';
      }
      out += word;
      if (--left === 0) out += '.';
    }
    return left === 0 ? out : out + '.';
  }
}

/** One message in the export format. */
function message(id, role, text, timeMs) {
  return {
    id, role, text, time_ms: timeMs, status: 'complete',
    provider: role === 'assistant' ? 'offline' : null, tokens: 0,
  };
}

/** One conversation in the export format: `messages` alternating user/assistant. */
function conversation(g, messages) {
  const created = BASE_MS - g.int(90 * DAY_MS);
  let t = created;
  const list = [];
  for (let j = 0; j < messages; j++) {
    t += 5000 + g.int(115000);
    list.push(message(g.uuid(), j % 2 === 0 ? 'user' : 'assistant', g.text(150, 400), t));
  }
  const first = list[0].text;
  const title = first.length <= 80 ? first : first.slice(0, first.lastIndexOf(' ', 80));
  return {
    id: g.uuid(), site: g.pick(SITES), title, created_ms: created, updated_ms: t,
    messages: list, tags: [], agent: 'clippy', personality: 'helpful',
    usage: { tokens_in: 0, tokens_out: 0, cost_micro_usd: 0 },
  };
}

/** `count` conversations from `seed`. */
export function conversations(seed, count, messages) {
  const g = new Gen(seed);
  return Array.from({ length: count }, () => conversation(g, messages));
}

/** An export file (docs/export-format.md) holding `list`. */
export function exportText(list) {
  return JSON.stringify({ format: 'paperclip-export', version: 1, exported_ms: BASE_MS, conversations: list });
}

/** Cache entries `[key, value]` numbered `from`..`from + count`. */
function cacheEntries(seed, from, count, chars) {
  const g = new Gen(seed);
  return Array.from({ length: count }, (_, i) => {
    const value = g.text(chars + 15, chars + 30).slice(0, chars);
    return [`${g.pick(SITES)}/page/${from + i}`, value];
  });
}

// Distinct seeds for distinct data sets (the same for every adapter).
const SEED = { pool: 1, pick: 2, append: 3, cache: 4, fill: 100, import: 10000, usageCache: 20000 };

// ---------------------------------------------------------------------------
// Adapters: the same async interface over three implementations.
//
//   open(dbName)                  deletes dbName, then opens it
//   prepare(exportText)           sync; keeps the file's conversations by index
//   save(i)                       puts prepared conversation i
//   load(id) -> message count
//   append(id, {id, text, time_ms})   get, push a user message, bump updated, put (one tx)
//   cachePut(key, value, nowMs)
//   cacheGet(key, memory, nowMs) -> hit?
//   listPage(limit) -> count      newest first
//   importJson(exportText) -> conversations written
//   fillCache(entries)            untimed bulk cache fill
//   usage() -> bytes (navigator.storage.estimate(), origin-wide)
//   close()

/** A promise for an IDBRequest's result. */
function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** A promise that resolves when `tx` commits. */
function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

/** Deletes database `name`; rejects if another connection blocks it for 10 s. */
function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    let timer = null;
    r.onsuccess = () => { clearTimeout(timer); resolve(); };
    r.onerror = () => { clearTimeout(timer); reject(r.error); };
    r.onblocked = () => {
      timer = setTimeout(() => reject(new Error(`deleting ${name} is blocked by an open connection`)), 10000);
    };
  });
}

async function originUsage() {
  return (await navigator.storage.estimate()).usage;
}

/** Plain IndexedDB with hand-written promise wrappers: the baseline. */
class RawIdb {
  name = 'raw-idb';

  async open(dbName) {
    await deleteDatabase(dbName);
    const r = indexedDB.open(dbName, 1);
    r.onupgradeneeded = () => {
      const db = r.result;
      db.createObjectStore('conversations', { keyPath: 'id' })
        .createIndex('by_updated', ['updated', 'id']);
      db.createObjectStore('context_cache', { keyPath: 'key' });
    };
    this.db = await req(r);
  }

  /** The stored record: the export object plus `updated` for the index. */
  static record(c) { c.updated = c.updated_ms; return c; }

  prepare(text) { this.pool = JSON.parse(text).conversations.map(RawIdb.record); }

  save(i) {
    const tx = this.db.transaction('conversations', 'readwrite');
    tx.objectStore('conversations').put(this.pool[i]);
    tx.commit();
    return txDone(tx);
  }

  async load(id) {
    const tx = this.db.transaction('conversations', 'readonly');
    const c = await req(tx.objectStore('conversations').get(id));
    return c.messages.length;
  }

  append(id, m) {
    const tx = this.db.transaction('conversations', 'readwrite');
    const store = tx.objectStore('conversations');
    const get = store.get(id);
    get.onsuccess = () => {
      const c = get.result; // a missing id throws here, which aborts the transaction
      c.messages.push(message(m.id, 'user', m.text, m.time_ms));
      c.updated_ms = c.updated = m.time_ms;
      store.put(c);
      tx.commit();
    };
    return txDone(tx);
  }

  cachePut(key, value, nowMs) {
    const tx = this.db.transaction('context_cache', 'readwrite');
    tx.objectStore('context_cache').put({ key, value, time_ms: nowMs });
    tx.commit();
    return txDone(tx);
  }

  async cacheGet(key) {
    const tx = this.db.transaction('context_cache', 'readonly');
    return (await req(tx.objectStore('context_cache').get(key))) !== undefined;
  }

  listPage(limit) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction('conversations', 'readonly');
      const out = [];
      const r = tx.objectStore('conversations').index('by_updated').openCursor(null, 'prev');
      r.onsuccess = () => {
        const cursor = r.result;
        if (cursor && out.length < limit) {
          out.push(cursor.value);
          cursor.continue();
        } else {
          resolve(out.length);
        }
      };
      r.onerror = () => reject(r.error);
    });
  }

  async importJson(text) {
    const list = JSON.parse(text).conversations;
    const tx = this.db.transaction('conversations', 'readwrite');
    const store = tx.objectStore('conversations');
    for (const c of list) store.put(RawIdb.record(c));
    tx.commit();
    await txDone(tx);
    return list.length;
  }

  async fillCache(entries) {
    for (let i = 0; i < entries.length; i += 10000) {
      const tx = this.db.transaction('context_cache', 'readwrite');
      const store = tx.objectStore('context_cache');
      for (const [key, value] of entries.slice(i, i + 10000)) store.put({ key, value, time_ms: BASE_MS });
      tx.commit();
      await txDone(tx);
    }
  }

  usage() { return originUsage(); }
  close() { this.db.close(); }
}

/** Dexie 4, used idiomatically. */
class DexieAdapter {
  name = 'dexie';

  async open(dbName) {
    await Dexie.delete(dbName);
    this.db = new Dexie(dbName);
    this.db.version(1).stores({ conversations: 'id, [updated+id]', context_cache: 'key' });
    await this.db.open();
  }

  prepare(text) { this.pool = JSON.parse(text).conversations.map(RawIdb.record); }

  save(i) { return this.db.conversations.put(this.pool[i]); }

  async load(id) { return (await this.db.conversations.get(id)).messages.length; }

  append(id, m) {
    return this.db.transaction('rw', this.db.conversations, async () => {
      const c = await this.db.conversations.get(id);
      c.messages.push(message(m.id, 'user', m.text, m.time_ms));
      c.updated_ms = c.updated = m.time_ms;
      await this.db.conversations.put(c);
    });
  }

  cachePut(key, value, nowMs) { return this.db.context_cache.put({ key, value, time_ms: nowMs }); }

  async cacheGet(key) { return (await this.db.context_cache.get(key)) !== undefined; }

  async listPage(limit) {
    return (await this.db.conversations.orderBy('[updated+id]').reverse().limit(limit).toArray()).length;
  }

  async importJson(text) {
    const list = JSON.parse(text).conversations.map(RawIdb.record);
    await this.db.transaction('rw', this.db.conversations, () => this.db.conversations.bulkPut(list));
    return list.length;
  }

  async fillCache(entries) {
    for (let i = 0; i < entries.length; i += 10000) {
      await this.db.context_cache.bulkPut(
        entries.slice(i, i + 10000).map(([key, value]) => ({ key, value, time_ms: BASE_MS })));
    }
  }

  usage() { return originUsage(); }
  close() { this.db.close(); }
}

/** Paperclip's engine through the `BenchStore` wasm-bindgen class (cargo feature `bench`). */
class PaperclipAdapter {
  name = 'paperclip';

  constructor(BenchStore) { this.BenchStore = BenchStore; }

  async open(dbName) { this.dbName = dbName; this.pc = await this.BenchStore.open(dbName); }
  prepare(text) { this.pc.prepare(text); }
  save(i) { return this.pc.save(i); }
  load(id) { return this.pc.load(id); }
  append(id, m) { return this.pc.append(id, m.id, m.text, m.time_ms); }
  cachePut(key, value, nowMs) { return this.pc.cache_put(key, value, nowMs); }
  cacheGet(key, memory, nowMs) { return this.pc.cache_get(key, memory, nowMs); }
  listPage(limit) { return this.pc.list_page(limit); }
  importJson(text) { return this.pc.import_json(text); }

  /** Batches of 10,000 entries, one transaction each (as raw-idb does). */
  async fillCache(entries) {
    for (let i = 0; i < entries.length; i += 10000) {
      const chunk = entries.slice(i, i + 10000);
      await this.pc.cache_fill(chunk.map(([k]) => k), chunk.map(([, v]) => v), BASE_MS);
    }
  }

  usage() { return this.pc.usage(); }
  close() { this.pc.close(); }
}

/** The adapter called `name`, or null (with a note) when it cannot load. */
async function makeAdapter(name, notes) {
  switch (name) {
    case 'raw-idb': return new RawIdb();
    case 'dexie': return new DexieAdapter();
    case 'paperclip':
      try {
        const mod = await import('./pkg/paperclip_bench.js');
        await mod.default();
        return new PaperclipAdapter(mod.BenchStore);
      } catch (e) {
        notes.push(`paperclip skipped: pkg/paperclip_bench.js did not load (${e})`);
        return null;
      }
    default: throw new Error(`unknown adapter ${name}`);
  }
}

const dbName = (adapter) => DB_PREFIX + adapter.name;

// ---------------------------------------------------------------------------
// Timing harness

/** Nearest-rank percentile `p` (0..100) of sorted `xs`. */
function percentile(xs, p) {
  return xs[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
}

const round3 = (x) => Math.round(x * 1000) / 1000;

/** `list` in a random order from `rng`. */
function shuffled(list, rng) {
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Times `op(adapter, args)` for `warmup + n` iterations; in each, `argsFor(i)`
 * (untimed) makes the arguments shared by every adapter, and the adapters run
 * one after another in a fresh random order. Only the last `n` are recorded.
 * When `expect(args)` gives a value, every result is checked against it. An
 * adapter whose operation throws gets a note and no row for this case.
 */
async function measure(ctx, name, { n, warmup }, argsFor, op, expect = () => undefined) {
  const samples = new Map(ctx.adapters.map((a) => [a.name, []]));
  const wrong = new Set();
  const failed = new Set();
  for (let i = 0; i < warmup + n; i++) {
    const args = await argsFor(i);
    for (const a of shuffled(ctx.adapters, ctx.rng)) {
      if (failed.has(a.name)) continue;
      let result;
      const t0 = performance.now();
      try {
        result = await op(a, args);
      } catch (e) {
        failed.add(a.name);
        ctx.notes.push(`${a.name} ${name}: failed at iteration ${i}: ${e}`);
        continue;
      }
      const ms = performance.now() - t0;
      if (i >= warmup) samples.get(a.name).push(ms);
      const want = expect(args);
      if (want !== undefined && result !== want && !wrong.has(a.name)) {
        wrong.add(a.name);
        ctx.notes.push(`${a.name} ${name}: returned ${result}, expected ${want} (iteration ${i})`);
      }
    }
  }
  const summary = [];
  for (const a of ctx.adapters) {
    if (failed.has(a.name)) {
      summary.push(`${a.name} FAILED`);
      continue;
    }
    const xs = samples.get(a.name).sort((x, y) => x - y);
    const row = {
      case: name, impl: a.name, n: xs.length,
      p50_ms: round3(percentile(xs, 50)), p95_ms: round3(percentile(xs, 95)), p99_ms: round3(percentile(xs, 99)),
    };
    ctx.rows.push(row);
    summary.push(`${a.name} ${row.p50_ms}/${row.p95_ms}/${row.p99_ms}`);
  }
  log(`${name} (p50/p95/p99 ms): ${summary.join(', ')}`);
}

/** Imports generated conversations into every adapter until each holds `total` (untimed). */
async function fillConversations(ctx, adapters, have, total) {
  const cfg = ctx.cfg;
  for (let k = 0; have < total; k++) {
    const count = Math.min(cfg.fill_chunk, total - have);
    const text = exportText(conversations(cfg.seed + SEED.fill + k, count, cfg.messages));
    for (const a of adapters) {
      const written = await a.importJson(text).catch((e) => `an error (${e})`);
      if (written !== count) ctx.notes.push(`${a.name} fill: ${written} instead of ${count} conversations written`);
    }
    have += count;
  }
}

// ---------------------------------------------------------------------------
// Phases

async function timingPhase(ctx) {
  const cfg = ctx.cfg;
  ctx.adapters = [];
  for (const name of cfg.adapters) {
    const a = await makeAdapter(name, ctx.notes);
    if (!a) continue;
    try {
      await a.open(dbName(a));
    } catch (e) {
      ctx.notes.push(`${a.name} skipped: opening its database failed: ${e}`);
      continue;
    }
    ctx.adapters.push(a);
  }
  log(`adapters: ${ctx.adapters.map((a) => a.name).join(', ')}`);

  // The save pool: one conversation per save iteration; load and append reuse them.
  const poolSize = cfg.warmup + cfg.n;
  const pool = conversations(cfg.seed + SEED.pool, poolSize, cfg.messages);
  const poolText = exportText(pool);
  for (const a of ctx.adapters) a.prepare(poolText);
  const every = { n: cfg.n, warmup: cfg.warmup };
  const pick = new Gen(cfg.seed + SEED.pick);

  await measure(ctx, 'save', every, (i) => i, (a, i) => a.save(i));
  await measure(ctx, 'load', every, () => pool[pick.int(poolSize)].id, (a, id) => a.load(id),
    () => cfg.messages);

  const g = new Gen(cfg.seed + SEED.append);
  const appendBase = BASE_MS + DAY_MS;
  await measure(ctx, 'append', every,
    (i) => ({ conv: pool[i % poolSize].id, m: { id: g.uuid(), text: g.text(150, 400), time_ms: appendBase + i * 1000 } }),
    (a, x) => a.append(x.conv, x.m));

  const cache = cacheEntries(cfg.seed + SEED.cache, 0, poolSize, cfg.cache_value_chars);
  await measure(ctx, 'cache_put', every, (i) => cache[i], (a, [key, value]) => a.cachePut(key, value, Date.now()));
  await measure(ctx, 'cache_get_persistent', every, () => cache[pick.int(poolSize)][0],
    (a, key) => a.cacheGet(key, false, Date.now()), () => true);
  await measure(ctx, 'cache_get_memory', every, () => cache[pick.int(poolSize)][0],
    (a, key) => a.cacheGet(key, true, Date.now()), () => true);

  log(`filling every store to ${cfg.conversations} conversations (untimed)`);
  await fillConversations(ctx, ctx.adapters, poolSize, cfg.conversations);
  await measure(ctx, `list_${cfg.list_limit}_of_${cfg.conversations}`, { n: cfg.list_n, warmup: cfg.list_warmup },
    () => cfg.list_limit, (a, limit) => a.listPage(limit), () => cfg.list_limit);

  await measure(ctx, `import_${cfg.import_size}`, { n: cfg.import_runs, warmup: cfg.import_warmup },
    (i) => exportText(conversations(cfg.seed + SEED.import + i, cfg.import_size, cfg.messages)),
    (a, text) => a.importJson(text), () => cfg.import_size);
  for (const row of ctx.rows.filter((r) => r.case === `import_${cfg.import_size}`)) {
    ctx.import_per_s[row.impl] = Math.round(cfg.import_size / (row.p50_ms / 1000));
  }
  ctx.notes.push(`import_per_s = import_size / p50 of the ${cfg.import_runs} recorded imports`);

  for (const a of ctx.adapters) a.close();
}

/**
 * For each adapter in turn: empties the origin as far as it can, then stores
 * `conversations` conversations and `cache_entries` cache entries and reads
 * the origin's usage. Exact per adapter only when run on a fresh origin
 * (the runner uses a fresh browser profile for each).
 */
async function usagePhase(ctx) {
  const cfg = ctx.cfg;
  for (const name of cfg.adapters) {
    const a = await makeAdapter(name, ctx.notes);
    if (!a) continue;
    for (const info of await indexedDB.databases()) {
      if (!info.name.startsWith(DB_PREFIX)) continue;
      try { await deleteDatabase(info.name); } catch (e) { ctx.notes.push(`usage ${a.name}: ${e.message}`); }
    }
    const before = await originUsage();
    await a.open(`${DB_PREFIX}usage-${a.name}`);
    log(`usage ${a.name}: filling ${cfg.conversations} conversations`);
    await fillConversations(ctx, [a], 0, cfg.conversations);
    log(`usage ${a.name}: filling ${cfg.cache_entries} cache entries`);
    const t0 = performance.now();
    for (let i = 0; i < cfg.cache_entries; i += 10000) {
      const count = Math.min(10000, cfg.cache_entries - i);
      await a.fillCache(cacheEntries(cfg.seed + SEED.usageCache + i, i, count, cfg.cache_value_chars));
    }
    const seconds = (performance.now() - t0) / 1000;
    const bytes = await a.usage();
    const key = a.name.replace('-', '_');
    ctx.usage[`${key}_bytes`] = bytes;
    ctx.usage[`${key}_before_bytes`] = before;
    ctx.notes.push(`usage ${a.name}: ${cfg.cache_entries} cache entries stored in ${seconds.toFixed(1)} s`);
    if (before > 1e6) {
      ctx.notes.push(`usage ${a.name}: the origin already used ${before} bytes before filling (others' data is included)`);
    }
    log(`usage ${a.name}: ${(bytes / 1e6).toFixed(1)} MB (before: ${(before / 1e6).toFixed(1)} MB)`);
    a.close();
  }
}

/** Runs the benchmark; see the top of this file. */
export async function runStorageBench(config = {}) {
  const cfg = { ...DEFAULTS, ...config };
  started = performance.now();
  const ctx = { cfg, rng: mulberry32(cfg.seed), rows: [], import_per_s: {}, usage: {}, notes: [] };
  ctx.notes.push(`browser: ${navigator.userAgent}`);
  ctx.notes.push(crossOriginIsolated
    ? 'cross-origin isolated: performance.now() resolution ≈ 5 µs'
    : 'not cross-origin isolated: performance.now() is coarsened to ≈ 100 µs');
  log(`config: ${JSON.stringify(cfg)}`);
  if (cfg.phases.includes('timing')) await timingPhase(ctx);
  if (cfg.phases.includes('usage')) await usagePhase(ctx);
  log('done');
  return { rows: ctx.rows, import_per_s: ctx.import_per_s, usage: ctx.usage, notes: ctx.notes };
}

window.runStorageBench = runStorageBench;
