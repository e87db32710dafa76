// Telemetry benchmark: the cost of recording a metric in Paperclip's
// telemetry engine (Rust/wasm, the background's code) from the worker and
// from a UI page, next to the OpenTelemetry JS metrics SDK (npm) doing the
// same in this page; and a sustained load (10,000 metrics/min plus 1,000
// events/min over simulated minutes) with its loss accounting.
//
// `window.runTelemetryBench(config)` resolves to
//   {rows: [{case, impl, n, p50_ms, p95_ms, p99_ms}], sustained: {...},
//    ui_breakdown: {...}, versions: {...}, notes: [string]}
// and appends progress lines to `window.benchLog`.
//
// Micro cases time batches of `batch` operations (one JS → wasm call runs
// the whole loop for Paperclip; a JS loop for the SDK) and report the
// per-operation time of each batch; the implementations are interleaved in
// a fresh random order per sample.
//
// Plain ES module, no bundler: served next to pkg/paperclip_bench.js and
// otel/ (the SDK's ESM builds, staged by `cargo xtask bench telemetry`; the
// page's import map resolves their bare specifiers).

import init, { BenchTelemetry } from './pkg/paperclip_bench.js';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

/** Defaults; every key can be overridden by `runTelemetryBench(config)`. */
export const DEFAULTS = {
  samples: 200, // recorded batches per micro case...
  warmup: 20, // ...after this many unrecorded ones
  batch: 10000, // operations per batch
  sustained_runs: 20, // sustained-load runs per implementation
  sustained_minutes: 10, // simulated minutes per run
  metrics_per_min: 10000,
  events_per_min: 1000,
};

export const WORKER = 'paperclip (worker wasm)';
export const PER_CALL = 'paperclip (one JS→wasm call per op)';
export const UI = 'paperclip (UI → worker path)';

/** The label sets (the wasm side cycles through the same four). */
const PROVIDERS = ['openai', 'anthropic', 'ollama', 'gemini'];
const ATTRS = PROVIDERS.map((provider) => ({ provider, outcome: 'ok' }));

import { log, percentile, row, shuffle } from './common.js';

let lastBreath = performance.now();
/**
 * Yields to the event loop (so the driver's polls are answered) when the
 * page has been busy for 50 ms: the timed work itself is synchronous.
 */
async function breathe() {
  if (performance.now() - lastBreath > 50) {
    await new Promise((r) => setTimeout(r, 0));
    lastBreath = performance.now();
  }
}

/** Times `impls` ({name: batch()}) interleaved; per-operation ms rows. */
async function micro(kase, impls, cfg) {
  const samples = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
  for (let s = 0; s < cfg.warmup + cfg.samples; s++) {
    for (const name of shuffle(Object.keys(impls))) {
      const t = performance.now();
      impls[name]();
      const ms = (performance.now() - t) / cfg.batch;
      if (s >= cfg.warmup) samples[name].push(ms);
    }
    await breathe();
  }
  return Object.entries(samples).map(([name, xs]) => row(kase, name, xs));
}

/** The LCG of the wasm side: histogram values from 0.1 ms to 500 ms. */
function lcg(seed) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return ((x >>> 8) % 5000) / 10 + 0.1;
  };
}

/** A reader that only collects when asked (never during a timed loop). */
class BenchReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

function otelSetup() {
  const reader = new BenchReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('paperclip-bench');
  return {
    reader,
    provider,
    counter: meter.createCounter('paperclip.asks', { unit: '{ask}', description: 'questions asked' }),
    tokens: meter.createCounter('provider.tokens', { unit: '{token}' }),
    histogram: meter.createHistogram('provider.latency', { unit: 'ms', description: 'time to the last byte' }),
    uiCounter: meter.createCounter('ui.clicks', { unit: '1' }),
    uiHistogram: meter.createHistogram('ui.render_ms', { unit: 'ms' }),
  };
}

/** Sums of the collected data points: counter values, histogram counts. */
async function otelTotals(reader) {
  const { resourceMetrics } = await reader.collect();
  const totals = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      totals[m.descriptor.name] = m.dataPoints.reduce(
        (a, d) => a + (typeof d.value === 'number' ? d.value : d.value.count), 0);
    }
  }
  return totals;
}

/**
 * The SDK under the same metric load as `BenchTelemetry.sustained` (same
 * mix, same simulated clock, a collection per simulated minute); it has no
 * events. Returns {load_ms, records, offered, kept}.
 */
async function otelSustained(cfg) {
  const o = otelSetup();
  const value = lcg(777);
  const step = 60000 / cfg.metrics_per_min;
  const n = Math.floor((cfg.sustained_minutes * 60000) / step);
  let nextCollect = 60000;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const now = i * step;
    if (now >= nextCollect) {
      await o.reader.collect();
      nextCollect += 60000;
    }
    const provider = PROVIDERS[i & 3];
    switch (i % 10) {
      case 0: case 1: case 2: case 3: o.counter.add(1, ATTRS[0]); break;
      case 4: case 5: o.tokens.add(1, { provider, kind: 'output' }); break;
      case 6: case 7: o.histogram.record(value(), ATTRS[0]); break;
      case 8: o.uiCounter.add(1, { button: provider, source: 'popup' }); break;
      default: o.uiHistogram.record(value(), { view: provider, source: 'popup' });
    }
  }
  await o.reader.collect();
  const loadMs = performance.now() - t;
  const totals = await otelTotals(o.reader);
  const kept = Object.values(totals).reduce((a, b) => a + b, 0);
  await o.provider.shutdown();
  return { load_ms: loadMs, records: n, offered: n, kept };
}

async function version(pkg) {
  try {
    const r = await fetch(`./otel/${pkg}/package.json`);
    return (await r.json()).version;
  } catch (e) {
    return 'unknown';
  }
}

export async function runTelemetryBench(overrides) {
  const cfg = { ...DEFAULTS, ...(overrides || {}) };
  const rows = [];
  const notes = [];
  await init();
  const versions = {
    '@opentelemetry/sdk-metrics': await version('sdk-metrics'),
    '@opentelemetry/api': await version('api'),
    chromium: navigator.userAgent,
    cross_origin_isolated: self.crossOriginIsolated === true,
  };
  const OTEL = `OpenTelemetry JS SDK ${versions['@opentelemetry/sdk-metrics']}`;
  log(`wasm ready; ${OTEL}; crossOriginIsolated=${versions.cross_origin_isolated}`);

  const pc = new BenchTelemetry();
  const o = otelSetup();
  const value = lcg(12345);

  rows.push(...await micro('counter_add', {
    [WORKER]: () => pc.counterAdds(cfg.batch),
    [PER_CALL]: () => { for (let i = 0; i < cfg.batch; i++) pc.counterAdd(); },
    [UI]: () => pc.uiCounterAdds(cfg.batch),
    [OTEL]: () => { for (let i = 0; i < cfg.batch; i++) o.counter.add(1, ATTRS[0]); },
  }, cfg));
  log('counter_add done');

  rows.push(...await micro('counter_add_labelled', {
    [WORKER]: () => pc.counterAddsLabelled(cfg.batch),
    [OTEL]: () => {
      for (let i = 0; i < cfg.batch; i++) {
        o.counter.add(1, { provider: PROVIDERS[i & 3], outcome: 'ok' });
      }
    },
  }, cfg));
  log('counter_add_labelled done');

  rows.push(...await micro('histogram_record', {
    [WORKER]: () => pc.histogramRecords(cfg.batch),
    [PER_CALL]: () => { for (let i = 0; i < cfg.batch; i++) pc.histogramRecord(value()); },
    [UI]: () => pc.uiHistogramRecords(cfg.batch),
    [OTEL]: () => { for (let i = 0; i < cfg.batch; i++) o.histogram.record(value(), ATTRS[0]); },
  }, cfg));
  log('histogram_record done');

  rows.push(...await micro('span_event_record', {
    [WORKER]: () => pc.spanEventRecords(cfg.batch),
  }, cfg));
  log('span_event_record done');

  // Where the UI path's time goes (one warm-up pass, then the measured one).
  pc.uiPathBreakdown(cfg.batch);
  const uiBreakdown = JSON.parse(pc.uiPathBreakdown(cfg.batch * 5));
  log('ui path breakdown done');

  // The SDK kept every measurement of the micro cases (a sanity check that
  // its loops did the work).
  const otelMicro = await otelTotals(o.reader);
  await o.provider.shutdown();

  // --- Sustained load. -----------------------------------------------------
  const simulatedMs = cfg.sustained_minutes * 60000;
  const pcPerRecord = [];
  const otPerRecord = [];
  const runs = [];
  let otelLast = null;
  for (let run = 0; run < cfg.sustained_runs; run++) {
    for (const who of shuffle(['paperclip', 'otel'])) {
      if (who === 'paperclip') {
        const summary = JSON.parse(
          pc.sustained(cfg.metrics_per_min, cfg.events_per_min, simulatedMs));
        pcPerRecord.push(summary.load_ms / summary.records);
        runs.push(summary);
      } else {
        otelLast = await otelSustained(cfg);
        otPerRecord.push(otelLast.load_ms / otelLast.records);
      }
      await breathe();
    }
    if (run % 5 === 4 || run === cfg.sustained_runs - 1) {
      log(`sustained_load run ${run + 1}/${cfg.sustained_runs} done`);
    }
  }
  rows.push(row('sustained_load', WORKER, pcPerRecord));
  rows.push(row('sustained_load', OTEL, otPerRecord));
  pc.free();

  const last = runs[runs.length - 1];
  const sustained = {
    runs: runs.length,
    simulated_minutes: cfg.sustained_minutes,
    metrics_per_min: cfg.metrics_per_min,
    events_per_min: cfg.events_per_min,
    all_runs_zero_unaccounted: runs.every(
      (r) => r.metrics.unaccounted === 0 && r.events.unaccounted === 0),
    max_unaccounted: Math.max(...runs.map(
      (r) => Math.abs(r.metrics.unaccounted) + Math.abs(r.events.unaccounted))),
    paperclip: last,
    otel: otelLast,
  };

  notes.push(
    `micro cases: ${cfg.samples} batches of ${cfg.batch} operations (after ${cfg.warmup} warm-up `
    + 'batches), implementations interleaved in random order; a row\'s times are per operation.',
    `${WORKER}: one JS → wasm call runs the loop in the background's engine `
    + '(paperclip_core::telemetry::Engine): counter_add and histogram_record through a series '
    + 'handle bound once (Registry::series, then add/record), counter_add_labelled with the labels '
    + 'given each call (Registry::add_with, cycling through 4 label sets). The worker\'s '
    + 'telemetry::count(name, labels) also looks the instrument up by name on each call.',
    `${PER_CALL}: one JS → wasm call per operation (the boundary's cost).`,
    `${UI}: what a page (popup) and the worker run for a record, minus runtime.sendMessage: `
    + 'the record added to its series in the page buffer (paperclip_core::telemetry::page_buffer, '
    + 'metrics aggregated per series: counts summed, durations listed); the page making 100 '
    + 'records a simulated second, so its 1-second timer sends a RecordTelemetry every 100 '
    + 'records (4 label sets: 4 records), encoded to wire JSON and JSON.parse\'d '
    + '(platform::to_js), JSON.stringify\'d and decoded on the worker side (platform::decode_js), '
    + 'taken in by Engine::accept_page, and the reply encoded and read back.',
    `${OTEL}: MeterProvider with a MetricReader that collects only when asked (never during a `
    + 'timed loop); counter.add(1, attrs) and histogram.record(v, attrs) with the same attributes '
    + '(a constant attributes object for counter_add and histogram_record, a fresh object '
    + 'literal per call for counter_add_labelled); default aggregation (explicit-bucket '
    + 'histogram; Paperclip keeps a DDSketch). No bound instruments exist in OTel JS. Totals '
    + `collected after the micro cases: ${JSON.stringify(otelMicro)}.`,
    'span_event_record (Paperclip only; OTel\'s trace and logs SDKs are not part of this '
    + 'comparison): alternately a finished span with 2 attributes (Engine::span) and an event '
    + 'with 3 properties (Engine::event), in bounded stores at steady state (oldest evicted, '
    + 'counted).',
    `sustained_load: ${cfg.metrics_per_min} metric records/min + ${cfg.events_per_min} events/min `
    + `over ${cfg.sustained_minutes} simulated minutes per run (${cfg.sustained_runs} runs), on a `
    + 'fresh engine, ticked every simulated second (collection each minute); metrics: 40% bound '
    + 'counter adds, 20% labelled counter adds, 20% histogram records, 20% from the popup via '
    + 'RecordTelemetry; events: half the worker\'s, half the popup\'s. A row\'s times are the '
    + 'wall time of the run per record. The OTel row runs the same metric mix (no events; a '
    + 'collect() per simulated minute) and is per metric record.',
  );
  return { rows, sustained, ui_breakdown: uiBreakdown, versions, notes };
}

window.runTelemetryBench = runTelemetryBench;
