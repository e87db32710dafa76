// Resilience benchmark: Paperclip's breaker and retry decision (Rust/wasm,
// the background's code) against cockatiel (npm) in the same page, and the
// recovery time of both from a fake provider coming back to the first
// successful answer.
//
// `window.runResilienceBench(config)` resolves to
//   {rows: [{case, impl, n, p50_ms, p95_ms, p99_ms}], bounds: {...}, notes: [string]}
// and appends progress lines to `window.benchLog`.
//
// Micro cases time batches of `batch` operations (performance.now() is too
// coarse for one) and report the per-operation time of each batch; the
// implementations are interleaved in a fresh random order per sample.
//
// Plain ES module, no bundler: served next to pkg/paperclip_bench.js and
// cockatiel/ (its ESM build, staged by `cargo xtask bench resilience`).

import init, {
  BenchStore, BenchBreaker, breakerChecks, retryDecisions,
} from './pkg/paperclip_bench.js';
import {
  circuitBreaker, retry, handleAll, ConsecutiveBreaker, ExponentialBackoff, BrokenCircuitError,
  CircuitState,
} from './cockatiel/index.js';

/** Defaults; every key can be overridden by `runResilienceBench(config)`. */
export const DEFAULTS = {
  fake: null, // the fake provider's base URL (required for the request cases)
  samples: 200, // recorded batches per micro case...
  warmup: 20, // ...after this many unrecorded ones
  batch: 10000, // operations per batch (performance.now() ticks are 100 µs here)
  requests: 200, // healthy requests timed per implementation
  recovery_trials: 5, // per implementation
  half_open_ms: 1000, // the breaker's pause before its half-open probe
  threshold: 3, // consecutive failures that open the breaker
  poll_ms: 10, // how often a client asks while waiting for recovery
};

import { log, percentile, row, shuffle } from './common.js';

/** Times `impls` ({name: async batch()}) interleaved; per-operation ms rows. */
async function micro(kase, impls, cfg) {
  const samples = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
  for (let s = 0; s < cfg.warmup + cfg.samples; s++) {
    for (const name of shuffle(Object.keys(impls))) {
      const t = performance.now();
      await impls[name]();
      const ms = (performance.now() - t) / cfg.batch;
      if (s >= cfg.warmup) samples[name].push(ms);
    }
  }
  return Object.entries(samples).map(([name, xs]) => row(kase, name, xs));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fakeControl(base, what, body) {
  const r = await fetch(`${base}/__fake/${what}`, {
    method: 'POST', body: JSON.stringify(body || {}), headers: { 'content-type': 'text/plain' },
  });
  if (!r.ok) throw new Error(`fake ${what}: ${r.status}`);
}

/** One streamed chat completion read to its end, as a plain client does. */
async function fetchAnswer(base, question) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'fake-model-1', stream: true, max_tokens: 64,
      messages: [{ role: 'user', content: question }],
    }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const text = await r.text();
  if (!text.includes('[DONE]')) throw new Error('the stream ended early');
  return text;
}

export async function runResilienceBench(overrides) {
  const cfg = { ...DEFAULTS, ...(overrides || {}) };
  const rows = [];
  const notes = [];
  await init();
  log('wasm ready');

  // --- The breaker: check a request in, record its success. --------------
  const pcBreaker = new BenchBreaker();
  let clock = Date.now();
  const ckPolicy = circuitBreaker(handleAll, {
    halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5),
  });
  const ckBreaker = new ConsecutiveBreaker(5);
  const noop = () => 1;
  rows.push(...await micro('breaker_check', {
    'paperclip': () => { breakerChecks(cfg.batch); },
    'paperclip-per-call': () => {
      for (let i = 0; i < cfg.batch; i++) pcBreaker.check(clock++);
    },
    'cockatiel': async () => {
      for (let i = 0; i < cfg.batch; i++) await ckPolicy.execute(noop);
    },
    'cockatiel-sync': () => {
      for (let i = 0; i < cfg.batch; i++) {
        if (ckPolicy.state === CircuitState.Closed) ckBreaker.success(CircuitState.Closed);
      }
    },
  }, cfg));
  log('breaker_check done');

  // --- The retry decision after a failed attempt. -------------------------
  // cockatiel's RetryPolicy.execute, minus the call and the wait: its error
  // filter, the attempts check, the next backoff (decorrelated jitter) and
  // the onRetry emission.
  const ckRetry = retry(handleAll, {
    maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 8000 }),
  });
  const errorFilter = ckRetry.executor.errorFilter;
  const factory = ckRetry.options.backoff;
  const error = new Error('503');
  const signal = new AbortController().signal;
  rows.push(...await micro('retry_decision', {
    'paperclip': () => { retryDecisions(cfg.batch); },
    'cockatiel': () => {
      let sum = 0;
      for (let i = 0; i < cfg.batch; i++) {
        const result = { error, handled: errorFilter(error) };
        if (result.handled && !signal.aborted && 0 < ckRetry.options.maxAttempts) {
          const duration = factory.next({ attempt: 1, signal, result }).duration;
          ckRetry.onRetryEmitter.emit({ ...result, delay: duration, attempt: 1 });
          sum += duration;
        }
      }
      return sum;
    },
  }, cfg));
  log('retry_decision done');

  if (!cfg.fake) {
    notes.push('no fake provider (config.fake): request and recovery cases skipped');
    return { rows, bounds: {}, notes };
  }

  // --- Requests and recovery through each implementation. -----------------
  await fakeControl(cfg.fake, 'reset');
  const store = await BenchStore.open('paperclip-bench-resilience');
  await store.setResilience(JSON.stringify({
    retry: { max_attempts: 1, base_ms: 50, max_backoff_ms: 50, jitter: 'full', deadline_ms: 10_000,
             budget: { ratio: 0.2, min_per_window: 5, window_ms: 60_000 } },
    breaker: { mode: { consecutive: { threshold: cfg.threshold } }, base_break_ms: cfg.half_open_ms,
               max_break_ms: cfg.half_open_ms, break_multiplier: 1.0, half_open_probes: 1 },
  }));
  const ckRecover = circuitBreaker(handleAll, {
    halfOpenAfter: cfg.half_open_ms, breaker: new ConsecutiveBreaker(cfg.threshold),
  });
  const clients = {
    'paperclip': (q) => store.ask(cfg.fake, q),
    'cockatiel': (q) => ckRecover.execute(() => fetchAnswer(cfg.fake, q)),
  };
  // The floor: the same request as a bare fetch, read to its end.
  const timed = { ...clients, 'fetch': (q) => fetchAnswer(cfg.fake, q) };
  const requests = Object.fromEntries(Object.keys(timed).map((k) => [k, []]));
  for (let i = 0; i < cfg.requests + 3; i++) {
    for (const name of shuffle(Object.keys(timed))) {
      const t = performance.now();
      await timed[name](`question ${i}`);
      if (i >= 3) requests[name].push(performance.now() - t);
    }
    if (i % 50 === 49) log(`request ${i + 1}/${cfg.requests + 3}`);
  }
  for (const [name, xs] of Object.entries(requests)) rows.push(row('request', name, xs));
  log('request done');

  const recovery = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
  const opensIn = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
  for (let trial = 0; trial < cfg.recovery_trials; trial++) {
    for (const name of Object.keys(clients)) {
      const ask = clients[name];
      await fakeControl(cfg.fake, 'down', { down: true });
      // Fail until the breaker refuses without calling the server.
      let failures = 0;
      for (;;) {
        try { await ask('down?'); } catch (e) {
          failures++;
          const refused = e instanceof BrokenCircuitError || /paused/.test(String(e));
          if (refused) break;
          if (failures > 50) throw new Error(`${name}: the breaker never opened: ${e}`);
        }
      }
      opensIn[name].push(failures - 1);
      await fakeControl(cfg.fake, 'down', { down: false });
      const t = performance.now();
      for (;;) {
        try { await ask('back?'); break; } catch (e) { await sleep(cfg.poll_ms); }
      }
      recovery[name].push(performance.now() - t);
    }
    log(`recovery trial ${trial + 1}/${cfg.recovery_trials} done`);
  }
  for (const [name, xs] of Object.entries(recovery)) rows.push(row('recovery', name, xs));
  store.close();

  const p95 = (xs) => percentile([...xs].sort((a, b) => a - b), 95);
  const bounds = {
    half_open_ms: cfg.half_open_ms,
    paperclip_request_p95_ms: p95(requests.paperclip),
    recovery_bound_ms: cfg.half_open_ms + p95(requests.paperclip) + cfg.poll_ms,
    failures_to_open: opensIn,
  };
  notes.push(
    'breaker_check: a check that admits the request plus recording its success. '
    + 'paperclip = the wasm loop in the background\'s code; paperclip-per-call = one JS→wasm call per '
    + 'request; cockatiel = CircuitBreakerPolicy.execute(() => 1) (async: a promise per call, as '
    + 'cockatiel users pay); cockatiel-sync = its state read plus ConsecutiveBreaker.success().',
    'retry_decision: paperclip = classification, retry budget, deadline and full-jitter backoff '
    + '(Math.random from wasm); cockatiel = the handled/attempts checks and '
    + 'ExponentialBackoff.next() (decorrelated jitter), the decision inside its RetryPolicy.',
    `recovery: the server comes back right after the breaker opened (${cfg.threshold} consecutive `
    + `failures, ${cfg.half_open_ms} ms pause); a client asks every ${cfg.poll_ms} ms until an answer `
    + 'arrives. Bound (for the p95): the pause + one request (p95) + one poll interval.',
    `request: ${cfg.requests} healthy streamed requests to the fake provider (after 3 unrecorded) per `
    + 'implementation, interleaved in random order: paperclip = the background\'s whole provider '
    + 'path from wasm (bulkhead, breaker, retry, deadline, streamed SSE parsing); cockatiel = its '
    + 'breaker around a fetch; fetch = the same request as a bare fetch read to its end (the floor).',
  );
  return { rows, bounds, notes };
}

window.runResilienceBench = runResilienceBench;
