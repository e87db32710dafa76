// Helpers shared by the benchmark pages: a log the driver reads
// (`window.benchLog`), nearest-rank percentiles, the shared row format and
// an in-place shuffle (to interleave implementations).

window.benchLog = window.benchLog || [];
const started = performance.now();

export function log(message) {
  const line = `[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`;
  window.benchLog.push(line);
  console.log(line);
}

/** Nearest-rank percentile of sorted `xs`. */
export function percentile(xs, p) {
  const i = Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1));
  return xs[i];
}

/** A row of `target/bench/*.json` from unsorted `samples` (ms). */
export function row(kase, impl, samples) {
  const xs = [...samples].sort((a, b) => a - b);
  return {
    case: kase, impl, n: xs.length,
    p50_ms: percentile(xs, 50), p95_ms: percentile(xs, 95), p99_ms: percentile(xs, 99),
  };
}

export function shuffle(xs) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
