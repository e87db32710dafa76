//! The [`Engine`]: every part of telemetry behind one facade, for the
//! background (see the module docs of [`super`]).

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::buffer::{Buffer, BufferConfig};
use super::errors::{ErrorGroups, ErrorInput, ErrorRecord, Fingerprint};
use super::events::{Event, EventLimits, EventLog};
use super::funnel::{Funnel, FunnelDef, FunnelError};
use super::health::{HealthBoard, HealthTransition, Status, TooManyComponents};
use super::metrics::{Collection, MetricsConfig, Registry};
use super::otlp::{
    self, classify, rejected_items, BatchId, Endpoint, ExportOutcome, ExportQueue, Nacked, Poll,
    QueueConfig, QueuedBatch, Resource,
};
use super::panel::{ExportStatus, PanelAnswer, PanelQuery};
use super::privacy::{PrivacyConfig, Scrubber};
use super::sampling::{Sampler, SamplingRates};
use super::span::{chrome_trace, Span, SpanStatus, SpanStore, MAX_SPAN_ATTRIBUTES};
use super::{AttrValue, DropReason, DropTally, Signal};
use crate::resilience::{check_range, InvalidSetting};

/// Everything the engine is configured with.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The extension's version (the OTLP resource's `service.version`).
    pub service_version: String,
    /// Remote export (the user's opt-in `privacy.telemetry_remote`).
    pub export: bool,
    /// How often metrics are collected (one time-series point each), ms.
    pub collect_interval_ms: f64,
    /// Sampling rates.
    pub sampling: SamplingRates,
    /// The scrubber's bounds.
    pub privacy: PrivacyConfig,
    /// The registry's settings.
    pub metrics: MetricsConfig,
    /// Bounds on events.
    pub events: EventLimits,
    /// Recent events kept for the panel.
    pub event_capacity: u32,
    /// Spans kept for the timeline.
    pub span_capacity: u32,
    /// Error groups kept.
    pub error_groups: u32,
    /// Batching of events, errors and spans for export.
    pub buffer: BufferConfig,
    /// The offline export queue.
    pub queue: QueueConfig,
    /// Funnels over events.
    pub funnels: Vec<FunnelDef>,
    /// Open journeys per funnel.
    pub max_journeys: u32,
}

impl EngineConfig {
    /// Accepted `collect_interval_ms` (a second to an hour).
    pub const COLLECT_INTERVAL_MS: RangeInclusive<f64> = 1_000.0..=3_600_000.0;
}

impl Default for EngineConfig {
    /// Export off; collect every minute; 1,000 events, 5,000 spans and 200
    /// error groups kept; the parts' defaults.
    fn default() -> Self {
        Self {
            service_version: env!("CARGO_PKG_VERSION").into(),
            export: false,
            collect_interval_ms: 60_000.0,
            sampling: SamplingRates::default(),
            privacy: PrivacyConfig::default(),
            metrics: MetricsConfig::default(),
            events: EventLimits::default(),
            event_capacity: 1_000,
            span_capacity: 5_000,
            error_groups: 200,
            buffer: BufferConfig::default(),
            queue: QueueConfig::default(),
            funnels: Vec::new(),
            max_journeys: 1_000,
        }
    }
}

/// An engine that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// A setting outside its range.
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
    /// A funnel definition.
    #[error(transparent)]
    Funnel(#[from] FunnelError),
}

/// What [`Engine::tick`] and [`Engine::flush`] changed in the export
/// queue, for the shell to mirror in IndexedDB.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TickReport {
    /// Batches queued (store them: [`Engine::batch`]).
    pub enqueued: Vec<BatchId>,
    /// Batches gone (delete them).
    pub removed: Vec<BatchId>,
}

/// Telemetry as a whole (see the module docs of [`super`]).
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    scrubber: Scrubber,
    resource: Resource,
    metrics: Registry,
    sampler: Sampler,
    events: EventLog,
    errors: ErrorGroups,
    health: HealthBoard,
    spans: SpanStore,
    funnels: Vec<Funnel>,
    event_out: Buffer<Event>,
    error_out: Buffer<ErrorRecord>,
    span_out: Buffer<Span>,
    queue: ExportQueue,
    next_collect_ms: f64,
}

/// splitmix64, to draw one decision per metric point from one random input.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Engine {
    /// An engine with validated settings, its first metrics window starting
    /// at `now_ms`.
    pub fn new(config: EngineConfig, now_ms: f64) -> Result<Self, EngineError> {
        let c = EngineConfig::COLLECT_INTERVAL_MS;
        check_range(
            "telemetry.collect_interval_ms",
            config.collect_interval_ms,
            *c.start(),
            *c.end(),
        )?;
        config.events.validate()?;
        let scrubber = Scrubber::new(config.privacy)?;
        let funnels = config
            .funnels
            .iter()
            .map(|def| Funnel::new(def.clone(), config.max_journeys as usize))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            resource: Resource::paperclip(&scrubber.text_within(&config.service_version, 64)),
            metrics: Registry::new(config.metrics, scrubber.clone(), now_ms)?,
            sampler: Sampler::new(config.sampling)?,
            events: EventLog::new(config.event_capacity)?,
            errors: ErrorGroups::new(config.error_groups)?,
            health: HealthBoard::default(),
            spans: SpanStore::new(config.span_capacity)?,
            funnels,
            event_out: Buffer::new(config.buffer)?,
            error_out: Buffer::new(config.buffer)?,
            span_out: Buffer::new(config.buffer)?,
            queue: ExportQueue::new(config.queue)?,
            next_collect_ms: now_ms + config.collect_interval_ms,
            scrubber,
            config,
        })
    }

    /// Cuts the local span store and event log to [`Self::FLOOR`] items
    /// (`true`) while memory is shed, or gives them back their capacity
    /// (`false`). What goes is the oldest, counted as evicted; what is
    /// already persisted stays readable from storage.
    pub fn shed_buffers(&mut self, shed: bool) {
        let floor = shed.then_some(Self::FLOOR);
        self.spans.set_floor(floor);
        self.events.set_floor(floor);
    }

    /// Spans and events kept while memory is shed.
    pub const FLOOR: usize = 200;

    /// Its settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The scrubber every string goes through.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    /// The metrics registry (read).
    pub fn metrics(&self) -> &Registry {
        &self.metrics
    }

    /// The metrics registry: register instruments, bind series and record
    /// on the hot path directly.
    pub fn metrics_mut(&mut self) -> &mut Registry {
        &mut self.metrics
    }

    /// The recent events.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// The error groups.
    pub fn errors(&self) -> &ErrorGroups {
        &self.errors
    }

    pub(crate) fn errors_mut(&mut self) -> &mut ErrorGroups {
        &mut self.errors
    }

    /// The span store.
    pub fn spans(&self) -> &SpanStore {
        &self.spans
    }

    pub(crate) fn spans_mut(&mut self) -> &mut SpanStore {
        &mut self.spans
    }

    /// Health.
    pub fn health(&self) -> &HealthBoard {
        &self.health
    }

    /// The sampler (its kept and sampled-out counts).
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    fn count(&mut self, signal: Signal, tally: DropTally) {
        if !tally.is_empty() {
            self.metrics.count_dropped(signal, tally);
        }
    }

    fn sampled_out(&mut self, signal: Signal) {
        let mut t = DropTally::default();
        t.add(DropReason::SampledOut, 1);
        self.count(signal, t);
    }

    /// Records an event (funnels see it whatever the sampling; `r` in
    /// `[0, 1)` decides whether it is kept). Returns whether it was kept.
    pub fn event(
        &mut self,
        name: &str,
        properties: &[(&str, AttrValue)],
        now_ms: f64,
        r: f64,
    ) -> bool {
        for funnel in &mut self.funnels {
            let key = funnel.def().journey_key.as_str();
            let journey = properties
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| match v {
                    AttrValue::Int(i) => Some(*i as u64),
                    AttrValue::Str(s) => Some(xxh3_64(s.as_bytes())),
                    _ => None,
                });
            if let Some(journey) = journey {
                funnel.observe(name, journey);
            }
        }
        let evicted: DropTally =
            self.funnels
                .iter_mut()
                .fold(DropTally::default(), |mut acc, f| {
                    for (reason, n) in f.take_dropped().iter() {
                        acc.add(reason, n);
                    }
                    acc
                });
        self.count(Signal::Events, evicted);
        if !self.sampler.keep(Signal::Events, r) {
            self.sampled_out(Signal::Events);
            return false;
        }
        let mut dropped = DropTally::default();
        let event = Event::new(
            name,
            now_ms,
            properties.iter().cloned(),
            &self.scrubber,
            &self.config.events,
            &mut dropped,
        );
        if self.config.export {
            self.event_out.push(event.clone(), now_ms);
            dropped.add(
                DropReason::BufferFull,
                self.event_out.take_dropped().total(),
            );
        }
        self.events.record(event);
        dropped.add(DropReason::Evicted, self.events.take_dropped().total());
        self.count(Signal::Events, dropped);
        true
    }

    /// Records an error (`r` decides sampling; errors are kept at 100 % by
    /// default). Returns its fingerprint if kept.
    pub fn error(&mut self, input: ErrorInput<'_>, now_ms: f64, r: f64) -> Option<Fingerprint> {
        if !self.sampler.keep(Signal::Errors, r) {
            self.sampled_out(Signal::Errors);
            return None;
        }
        let mut dropped = DropTally::default();
        let record = ErrorRecord::new(input, now_ms, &self.scrubber, &mut dropped);
        let fingerprint = record.fingerprint;
        if self.config.export {
            self.error_out.push(record.clone(), now_ms);
            dropped.add(
                DropReason::BufferFull,
                self.error_out.take_dropped().total(),
            );
        }
        self.errors.record(record);
        dropped.add(DropReason::Evicted, self.errors.take_dropped().total());
        self.count(Signal::Errors, dropped);
        Some(fingerprint)
    }

    /// Records a finished span (kept or not with its whole trace, by the
    /// trace id); its strings are scrubbed. Returns whether it was kept.
    pub fn span(&mut self, span: Span, now_ms: f64) -> bool {
        if !self.sampler.keep_trace(&span.trace_id) {
            self.sampled_out(Signal::Spans);
            return false;
        }
        let mut dropped = DropTally::default();
        let span = self.scrub_span(span, &mut dropped);
        if self.config.export {
            self.span_out.push(span.clone(), now_ms);
            dropped.add(DropReason::BufferFull, self.span_out.take_dropped().total());
        }
        self.spans.insert(span);
        dropped.add(DropReason::Evicted, self.spans.take_dropped().total());
        self.count(Signal::Spans, dropped);
        true
    }

    fn scrub_span(&self, span: Span, dropped: &mut DropTally) -> Span {
        let s = &self.scrubber;
        let before = span.attributes.len() as u64;
        let attributes = s.attributes(
            span.attributes.iter().map(|(k, v)| (k.as_str(), v.clone())),
            MAX_SPAN_ATTRIBUTES,
            dropped,
        );
        let lost = before - attributes.len() as u64;
        let events = span
            .events
            .iter()
            .map(|e| super::span::SpanEvent {
                name: s.text_within(&e.name, 128),
                time_ns: e.time_ns,
                attributes: s.attributes(
                    e.attributes.iter().map(|(k, v)| (k.as_str(), v.clone())),
                    MAX_SPAN_ATTRIBUTES,
                    dropped,
                ),
            })
            .collect();
        Span {
            name: s.text_within(&span.name, 128),
            attributes,
            events,
            status: match span.status {
                SpanStatus::Error { message } => SpanStatus::Error {
                    message: s.text(&message),
                },
                other => other,
            },
            dropped_attributes: span.dropped_attributes.saturating_add(lost as u32),
            ..span
        }
    }

    /// Reports a component's health (the message is scrubbed).
    pub fn set_health(
        &mut self,
        component: &str,
        status: Status,
        message: &str,
        now_ms: f64,
    ) -> Result<Option<HealthTransition>, TooManyComponents> {
        let component = self.scrubber.text_within(component, 64);
        let message = self.scrubber.text(message);
        self.health.set(&component, status, &message, now_ms)
    }

    /// Turns export to the OpenTelemetry collector on or off. Off drops
    /// (and counts) whatever waits to be sent there; returns the batches to
    /// delete from storage.
    pub fn set_export(&mut self, on: bool) -> Vec<BatchId> {
        self.config.export = on;
        if on {
            return Vec::new();
        }
        let t = |n: usize| {
            let mut t = DropTally::default();
            t.add(DropReason::ExportDisabled, n as u64);
            t
        };
        let (events, errors, spans) = (
            self.event_out.take_batch(usize::MAX, 0.0).len(),
            self.error_out.take_batch(usize::MAX, 0.0).len(),
            self.span_out.take_batch(usize::MAX, 0.0).len(),
        );
        self.count(Signal::Events, t(events));
        self.count(Signal::Errors, t(errors));
        self.count(Signal::Spans, t(spans));
        self.drop_queued(|e| e != Endpoint::Json)
    }

    /// Turns export to the custom JSON endpoint off: drops (and counts)
    /// its queued batches; returns them, to delete from storage.
    pub fn stop_json_export(&mut self) -> Vec<BatchId> {
        self.drop_queued(|e| e == Endpoint::Json)
    }

    /// Drops the queued batches bound for an endpoint `which` picks,
    /// counting their items as dropped because export is off.
    fn drop_queued(&mut self, which: impl Fn(Endpoint) -> bool) -> Vec<BatchId> {
        let gone: Vec<&QueuedBatch> = self.queue.batches().filter(|b| which(b.endpoint)).collect();
        let ids: Vec<BatchId> = gone.iter().map(|b| b.id).collect();
        let mut per_signal = [0u64; 4];
        for b in gone {
            for (s, n) in &b.items {
                per_signal[s.index()] += u64::from(*n);
            }
        }
        for id in &ids {
            self.queue.ack(*id);
        }
        for s in Signal::ALL {
            let mut t = DropTally::default();
            t.add(DropReason::ExportDisabled, per_signal[s.index()]);
            self.count(s, t);
        }
        ids
    }

    /// Housekeeping at `now_ms`: collects metrics when due (a time-series
    /// point; exported if export is on, each point kept with the metrics
    /// rate, decided from `r`) and moves due batches of events, errors and
    /// spans into the export queue.
    pub fn tick(&mut self, now_ms: f64, r: f64) -> TickReport {
        let mut report = TickReport::default();
        if now_ms >= self.next_collect_ms {
            let collection = self.metrics.collect(now_ms);
            self.next_collect_ms =
                (self.next_collect_ms + self.config.collect_interval_ms).max(now_ms);
            if self.next_collect_ms <= now_ms {
                self.next_collect_ms = now_ms + self.config.collect_interval_ms;
            }
            self.export_metrics(collection, r, &mut report);
        }
        if self.config.export {
            if let Some(batch) = self.event_out.take_due(now_ms) {
                self.export_logs(batch, Vec::new(), now_ms, &mut report);
            }
            if let Some(batch) = self.error_out.take_due(now_ms) {
                self.export_logs(Vec::new(), batch, now_ms, &mut report);
            }
            if let Some(batch) = self.span_out.take_due(now_ms) {
                self.export_spans(batch, now_ms, &mut report);
            }
        }
        report
    }

    /// Collects metrics and queues everything waiting, due or not (before
    /// the worker is suspended, or when the user asks).
    pub fn flush(&mut self, now_ms: f64, r: f64) -> TickReport {
        let mut report = TickReport::default();
        let collection = self.metrics.collect(now_ms);
        self.next_collect_ms = now_ms + self.config.collect_interval_ms;
        self.export_metrics(collection, r, &mut report);
        if self.config.export {
            let size = self.config.buffer.batch_size as usize;
            while !self.event_out.is_empty() {
                let batch = self.event_out.take_batch(size, now_ms);
                self.export_logs(batch, Vec::new(), now_ms, &mut report);
            }
            while !self.error_out.is_empty() {
                let batch = self.error_out.take_batch(size, now_ms);
                self.export_logs(Vec::new(), batch, now_ms, &mut report);
            }
            while !self.span_out.is_empty() {
                let batch = self.span_out.take_batch(size, now_ms);
                self.export_spans(batch, now_ms, &mut report);
            }
        }
        report
    }

    fn export_metrics(&mut self, mut collection: Collection, r: f64, report: &mut TickReport) {
        if !self.config.export || collection.is_empty() {
            return;
        }
        let mut state = r.to_bits();
        let mut out = 0u64;
        for m in &mut collection.metrics {
            m.points.retain(|_| {
                let keep = self.sampler.keep_u64(Signal::Metrics, splitmix(&mut state));
                out += u64::from(!keep);
                keep
            });
        }
        collection.metrics.retain(|m| !m.points.is_empty());
        let mut t = DropTally::default();
        t.add(DropReason::SampledOut, out);
        self.count(Signal::Metrics, t);
        if collection.is_empty() {
            return;
        }
        let n = collection.len() as u32;
        let body = otlp::metrics_request(&self.resource, &collection).to_string();
        self.enqueue(
            Endpoint::Metrics,
            body,
            &[(Signal::Metrics, n)],
            collection.end_ms,
            report,
        );
    }

    fn export_logs(
        &mut self,
        events: Vec<Event>,
        errors: Vec<ErrorRecord>,
        now_ms: f64,
        report: &mut TickReport,
    ) {
        let items = [
            (Signal::Events, events.len() as u32),
            (Signal::Errors, errors.len() as u32),
        ];
        let body = otlp::logs_request(&self.resource, &events, &errors).to_string();
        let items: Vec<(Signal, u32)> = items.into_iter().filter(|(_, n)| *n > 0).collect();
        self.enqueue(Endpoint::Logs, body, &items, now_ms, report);
    }

    fn export_spans(&mut self, spans: Vec<Span>, now_ms: f64, report: &mut TickReport) {
        let n = spans.len() as u32;
        let body = otlp::traces_request(&self.resource, &spans).to_string();
        self.enqueue(
            Endpoint::Traces,
            body,
            &[(Signal::Spans, n)],
            now_ms,
            report,
        );
    }

    pub(super) fn enqueue(
        &mut self,
        endpoint: Endpoint,
        body: String,
        items: &[(Signal, u32)],
        now_ms: f64,
        report: &mut TickReport,
    ) {
        let added = self.queue.enqueue(endpoint, body, items, now_ms);
        if !added.duplicate && !added.evicted.contains(&added.id) {
            report.enqueued.push(added.id);
        }
        report.enqueued.retain(|id| !added.evicted.contains(id));
        report
            .removed
            .extend(added.evicted.into_iter().filter(|id| *id != added.id));
        self.settle_queue();
    }

    fn settle_queue(&mut self) {
        for (signal, tally) in self.queue.take_dropped() {
            self.count(signal, tally);
        }
    }

    /// When the shell should call [`Engine::tick`] or [`Engine::poll`]
    /// next: the next collection, batch or queued send.
    pub fn next_wake(&self, now_ms: f64) -> f64 {
        let mut wake = self.next_collect_ms;
        if self.config.export {
            for at in [
                self.event_out.next_flush(now_ms),
                self.error_out.next_flush(now_ms),
                self.span_out.next_flush(now_ms),
            ]
            .into_iter()
            .flatten()
            {
                wake = wake.min(at);
            }
            if let Some(at) = self.queue.next_attempt_ms() {
                wake = wake.min(at.max(now_ms));
            }
        }
        wake
    }

    /// The next batch to send, if export is on (see
    /// [`ExportQueue::poll`]); expired batches are counted.
    pub fn poll(&mut self, now_ms: f64) -> Poll {
        if !self.config.export {
            return Poll::default();
        }
        let poll = self.queue.poll(now_ms);
        self.settle_queue();
        poll
    }

    /// Every queued batch (to mirror the queue in storage).
    pub fn queued_batches(&self) -> impl Iterator<Item = &QueuedBatch> {
        self.queue.batches()
    }

    /// A queued batch (its endpoint and body to POST, or to persist).
    pub fn batch(&self, id: BatchId) -> Option<&QueuedBatch> {
        self.queue.get(id)
    }

    /// The collector's answer to batch `id`: HTTP `status`, its
    /// `Retry-After` header and body. Returns what happened to the batch.
    pub fn on_response(
        &mut self,
        id: BatchId,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
        now_ms: f64,
        r: f64,
    ) -> Nacked {
        let outcome = classify(status, retry_after, now_ms);
        if outcome == ExportOutcome::Done {
            let rejected = rejected_items(body);
            if rejected > 0 {
                let signal = match self.queue.get(id).map(|b| b.endpoint) {
                    Some(Endpoint::Metrics) => Signal::Metrics,
                    Some(Endpoint::Traces) => Signal::Spans,
                    _ => Signal::Events,
                };
                self.queue.count_rejected(signal, rejected);
            }
        }
        let nacked = self.queue.nack(id, outcome, now_ms, r);
        self.settle_queue();
        nacked
    }

    /// The request for batch `id` got no HTTP answer: retried after a
    /// backoff (`r` in `[0, 1)`).
    pub fn on_network_error(&mut self, id: BatchId, now_ms: f64, r: f64) -> Nacked {
        self.queue.nack(id, otlp::network_error(), now_ms, r)
    }

    /// The network is back: batches waiting on a backoff are due now.
    pub fn online(&mut self, now_ms: f64) {
        self.queue.online(now_ms);
    }

    /// Rebuilds the export queue from storage after a worker restart;
    /// returns the stored batches to delete.
    pub fn restore_queue(
        &mut self,
        saved: Vec<QueuedBatch>,
    ) -> Result<Vec<BatchId>, InvalidSetting> {
        let (queue, removed) = ExportQueue::restore(self.config.queue, saved)?;
        self.queue = queue;
        self.settle_queue();
        Ok(removed)
    }

    /// Answers the devtools panel.
    pub fn query(&self, query: &PanelQuery) -> PanelAnswer {
        match query {
            PanelQuery::Metrics => PanelAnswer::Metrics(self.metrics.snapshot()),
            PanelQuery::Events {
                from_ms,
                to_ms,
                name,
                limit,
            } => PanelAnswer::Events(
                self.events
                    .between(*from_ms, *to_ms, name.as_deref(), *limit as usize)
                    .into_iter()
                    .cloned()
                    .collect(),
            ),
            PanelQuery::Errors { limit } => PanelAnswer::Errors(
                self.errors
                    .list()
                    .into_iter()
                    .take(*limit as usize)
                    .cloned()
                    .collect(),
            ),
            PanelQuery::Health => PanelAnswer::Health(self.health.snapshot()),
            PanelQuery::Spans {
                from_ns,
                to_ns,
                limit,
            } => PanelAnswer::Spans(
                self.spans
                    .between(*from_ns, *to_ns)
                    .into_iter()
                    .take(*limit as usize)
                    .cloned()
                    .collect(),
            ),
            PanelQuery::Trace { trace_id } => {
                PanelAnswer::Spans(self.spans.trace(trace_id).into_iter().cloned().collect())
            }
            PanelQuery::ChromeTrace { from_ns, to_ns } => {
                let spans: Vec<Span> = self
                    .spans
                    .between(*from_ns, *to_ns)
                    .into_iter()
                    .cloned()
                    .collect();
                PanelAnswer::ChromeTrace(chrome_trace(&spans).to_string())
            }
            PanelQuery::Funnels => {
                PanelAnswer::Funnels(self.funnels.iter().map(Funnel::report).collect())
            }
            PanelQuery::Export => PanelAnswer::Export(ExportStatus {
                enabled: self.config.export,
                queued_batches: self.queue.len() as u32,
                queued_bytes: self.queue.bytes(),
                buffered_items: (self.event_out.len() + self.error_out.len() + self.span_out.len())
                    as u32,
                next_collect_ms: self.next_collect_ms,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors::{Category, Severity};
    use super::super::span::{OpenSpan, SpanKind};
    use super::*;
    use proptest::prelude::*;

    const T0: f64 = 1_700_000_000_000.0;

    fn engine(export: bool) -> Engine {
        let config = EngineConfig {
            export,
            funnels: vec![FunnelDef::new("ask", ["ask.opened", "ask.sent"], "ask_id").unwrap()],
            buffer: BufferConfig {
                capacity: 50,
                batch_size: 10,
                flush_interval_ms: 5_000.0,
            },
            ..EngineConfig::default()
        };
        Engine::new(config, T0).unwrap()
    }

    fn bodies(e: &Engine) -> String {
        e.queue
            .batches()
            .map(|b| b.body.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn shedding_cuts_spans_and_events_to_the_floor_until_it_ends() {
        let mut e = engine(false);
        let add = |e: &mut Engine, i: u64| {
            let t = (T0 * 1e6) as u64 + i * 1_000_000;
            let span = OpenSpan::root("ask", SpanKind::Internal, (i + 1, 1), 1, t).finish(t + 10);
            e.span(span, T0);
            e.event("ask.sent", &[], T0, 0.0);
        };
        for i in 0..1_000 {
            add(&mut e, i);
        }
        assert_eq!(e.spans().len(), 1_000);
        e.shed_buffers(true);
        assert_eq!(e.spans().len(), Engine::FLOOR);
        assert_eq!(e.events().recent(usize::MAX).len(), Engine::FLOOR);
        add(&mut e, 5_000);
        assert_eq!(e.spans().len(), Engine::FLOOR, "held at the floor");
        e.shed_buffers(false);
        add(&mut e, 5_001);
        assert_eq!(e.spans().len(), Engine::FLOOR + 1, "the capacity is back");
    }

    #[test]
    fn local_only_by_default() {
        let mut e = engine(false);
        assert!(e.event("ask.opened", &[("ask_id", AttrValue::Int(1))], T0, 0.5));
        let r = e.tick(T0 + 120_000.0, 0.5);
        assert_eq!(r, TickReport::default());
        assert_eq!(e.poll(T0 + 120_000.0), Poll::default());
        assert_eq!(e.events().len(), 1);
        // The time series still advances.
        let PanelAnswer::Metrics(m) = e.query(&PanelQuery::Metrics) else {
            panic!()
        };
        assert!(m.iter().all(|i| i.history.len() == 1));
    }

    #[test]
    fn export_pipeline_end_to_end() {
        let mut e = engine(true);
        let asks = e
            .metrics_mut()
            .counter("paperclip.asks", "{ask}", "")
            .unwrap();
        e.metrics_mut().add_with(asks, &[("provider", "openai")], 2);
        for i in 0..12 {
            e.event(
                "ask.opened",
                &[("ask_id", AttrValue::Int(i))],
                T0 + i as f64,
                0.5,
            );
        }
        e.error(
            ErrorInput {
                message: "boom",
                kind: "Error",
                component: "background",
                ..ErrorInput::default()
            },
            T0,
            0.9,
        );
        let span = OpenSpan::root(
            "ask",
            SpanKind::Internal,
            (1, 2),
            3,
            1_700_000_000_000_000_000,
        )
        .finish(1_700_000_000_500_000_000);
        assert!(e.span(span, T0));
        // 12 events: one full batch of 10 is due at once.
        let first = e.tick(T0 + 100.0, 0.5);
        assert_eq!(first.enqueued.len(), 1);
        assert_eq!(e.next_wake(T0 + 100.0), T0 + 100.0); // ready to send
        let id = e.poll(T0 + 100.0).send.unwrap();
        // In flight: nothing to do before its answer but the error and span batches.
        assert_eq!(e.next_wake(T0 + 100.0), T0 + 5_000.0);
        assert_eq!(
            e.on_response(id, 200, None, "", T0 + 150.0, 0.5),
            Nacked::Removed
        );
        // Later: the rest of the events, the error, the span, and metrics.
        let second = e.tick(T0 + 60_000.0, 0.5);
        assert_eq!(second.enqueued.len(), 4);
        let b = bodies(&e);
        assert!(
            b.contains("resourceMetrics")
                && b.contains("resourceLogs")
                && b.contains("resourceSpans")
        );
        // Send them all: the first fails with 503 + Retry-After, then 200.
        let id = e.poll(T0 + 60_000.0).send.unwrap();
        assert_eq!(e.batch(id).unwrap().endpoint, Endpoint::Metrics); // queued first
        assert_eq!(
            e.on_response(id, 503, Some("30"), "", T0 + 60_000.0, 0.5),
            Nacked::Scheduled {
                at_ms: T0 + 90_000.0
            }
        );
        let mut sent = 0;
        let mut now = T0 + 60_000.0;
        while let Some(id) = e.poll(now).send.or_else(|| {
            now = e.next_wake(now);
            e.poll(now).send
        }) {
            assert_eq!(
                e.on_response(id, 200, None, "{}", now, 0.5),
                Nacked::Removed
            );
            sent += 1;
        }
        assert_eq!(sent, 4);
        assert_eq!(e.queue.len(), 0);
        assert_eq!(
            e.query(&PanelQuery::Export),
            PanelAnswer::Export(ExportStatus {
                enabled: true,
                queued_batches: 0,
                queued_bytes: 0,
                buffered_items: 0,
                next_collect_ms: T0 + 120_000.0,
            })
        );
    }

    #[test]
    fn rejections_and_sampling_are_counted() {
        let mut config = EngineConfig {
            export: true,
            ..EngineConfig::default()
        };
        config.sampling.events = 0.5;
        let mut e = Engine::new(config, T0).unwrap();
        assert!(!e.event("x", &[], T0, 0.7));
        assert!(e.event("x", &[], T0, 0.2));
        assert_eq!(
            e.metrics().dropped(DropReason::SampledOut, Signal::Events),
            1
        );
        let report = e.flush(T0 + 1.0, 0.5);
        assert_eq!(report.enqueued.len(), 2); // logs, and the metrics (the drop counter)
        let id = e.poll(T0 + 1.0).send.unwrap();
        let endpoint = e.batch(id).unwrap().endpoint;
        assert_eq!(
            e.on_response(id, 400, None, "", T0 + 2.0, 0.5),
            Nacked::Removed
        );
        let signal = if endpoint == Endpoint::Logs {
            Signal::Events
        } else {
            Signal::Metrics
        };
        assert!(e.metrics().dropped(DropReason::Rejected, signal) >= 1);
        let id = e.poll(T0 + 3.0).send.unwrap();
        let body = r#"{"partialSuccess":{"rejectedLogRecords":"1","rejectedDataPoints":"1"}}"#;
        e.on_response(id, 200, None, body, T0 + 3.0, 0.5);
        let total: u64 = [Signal::Events, Signal::Metrics]
            .into_iter()
            .map(|s| e.metrics().dropped(DropReason::Rejected, s))
            .sum();
        assert!(total >= 3);
        // Turning export off drops what waits, counted.
        e.event("y", &[], T0 + 4.0, 0.1);
        e.tick(T0 + 120_000.0, 0.5);
        let removed = e.set_export(false);
        assert!(!removed.is_empty());
        assert!(
            e.metrics()
                .dropped(DropReason::ExportDisabled, Signal::Events)
                >= 1
        );
        assert_eq!(e.poll(T0 + 130_000.0), Poll::default());
    }

    #[test]
    fn panel_queries() {
        let mut e = engine(false);
        e.event("ask.opened", &[("ask_id", AttrValue::Int(7))], T0, 0.5);
        e.event(
            "ask.sent",
            &[
                ("ask_id", AttrValue::Int(7)),
                ("selection", AttrValue::from("secret")),
            ],
            T0 + 1.0,
            0.5,
        );
        e.error(
            ErrorInput {
                message: "x 1",
                kind: "E",
                ..ErrorInput::default()
            },
            T0,
            0.5,
        );
        e.error(
            ErrorInput {
                message: "x 2",
                kind: "E",
                ..ErrorInput::default()
            },
            T0 + 5.0,
            0.5,
        );
        e.set_health(
            "storage",
            Status::Degraded,
            "quota at https://x.example/y",
            T0,
        )
        .unwrap();
        let t0 = 1_700_000_000_000_000_000u64;
        let root = OpenSpan::root("ask", SpanKind::Internal, (1, 2), 3, t0);
        let mut child = root.child("render", SpanKind::Internal, 4, t0 + 10);
        child.set_attribute("text", "page words");
        child.set_attribute("chars", 12i64);
        e.span(child.finish(t0 + 20), T0);
        e.span(root.finish(t0 + 30), T0);
        let check = |q: PanelQuery| {
            let a = e.query(&q);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<PanelAnswer>(&json).unwrap(), a);
            let bytes = postcard::to_allocvec(&a).unwrap();
            assert_eq!(postcard::from_bytes::<PanelAnswer>(&bytes).unwrap(), a);
            a
        };
        let PanelAnswer::Events(ev) = check(PanelQuery::Events {
            from_ms: 0.0,
            to_ms: 2e12,
            name: None,
            limit: 10,
        }) else {
            panic!()
        };
        assert_eq!(ev.len(), 2);
        assert!(ev[0].property("selection").is_none());
        let PanelAnswer::Errors(groups) = check(PanelQuery::Errors { limit: 10 }) else {
            panic!()
        };
        assert_eq!(
            (
                groups.len(),
                groups[0].count,
                groups[0].first_seen_ms,
                groups[0].last_seen_ms
            ),
            (1, 2, T0, T0 + 5.0)
        );
        let PanelAnswer::Health(h) = check(PanelQuery::Health) else {
            panic!()
        };
        assert_eq!(h.components[0].1.message, "quota at https://x.example");
        let PanelAnswer::Spans(spans) = check(PanelQuery::Spans {
            from_ns: t0,
            to_ns: t0 + 15,
            limit: 10,
        }) else {
            panic!()
        };
        assert_eq!(spans.len(), 2);
        let render = spans.iter().find(|s| s.name == "render").unwrap();
        assert_eq!(
            render.attributes,
            [("chars".to_string(), AttrValue::Int(12))]
        );
        assert_eq!(render.dropped_attributes, 1);
        let PanelAnswer::Spans(trace) = check(PanelQuery::Trace {
            trace_id: spans[0].trace_id,
        }) else {
            panic!()
        };
        assert_eq!(trace.len(), 2);
        let PanelAnswer::ChromeTrace(json) = check(PanelQuery::ChromeTrace {
            from_ns: t0,
            to_ns: t0 + 100,
        }) else {
            panic!()
        };
        assert!(json.contains("\"ph\":\"X\""));
        let PanelAnswer::Funnels(f) = check(PanelQuery::Funnels) else {
            panic!()
        };
        assert_eq!(
            f[0].steps.iter().map(|s| s.count).collect::<Vec<_>>(),
            [1, 1]
        );
        check(PanelQuery::Metrics);
        check(PanelQuery::Export);
    }

    #[test]
    fn settings_are_validated() {
        let bad = EngineConfig {
            collect_interval_ms: 10.0,
            ..EngineConfig::default()
        };
        assert!(matches!(
            Engine::new(bad, 0.0),
            Err(EngineError::Setting(_))
        ));
        let bad = EngineConfig {
            funnels: vec![FunnelDef {
                name: "f".into(),
                steps: vec![],
                journey_key: "k".into(),
            }],
            ..EngineConfig::default()
        };
        assert!(matches!(Engine::new(bad, 0.0), Err(EngineError::Funnel(_))));
    }

    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![
            "sk-[A-Za-z0-9]{20,30}",
            "ghp_[A-Za-z0-9]{20,30}",
            "AIza[A-Za-z0-9_-]{20,30}",
        ]
    }

    proptest! {
        /// Whatever enters the engine, no key, no URL path and no page text
        /// reaches the exported OTLP bodies, the panel or the stored spans.
        #[test]
        fn nothing_private_is_exported(
            key in secret(),
            path in "/[a-z]{4,10}/[a-z0-9]{4,10}",
            page_text in "[A-Z][a-z]{6,12} [a-z]{6,12} [a-z]{6,12}",
        ) {
            let mut e = engine(true);
            let url = format!("https://site.example{path}?q=1");
            let message = format!("failed {url} with key {key}");
            let props = [
                ("url", AttrValue::from(url.as_str())),
                ("note", AttrValue::from(message.as_str())),
                ("selection", AttrValue::from(page_text.as_str())),
                ("api_key", AttrValue::from(key.as_str())),
            ];
            e.event("ask.sent", &props, T0, 0.5);
            e.error(ErrorInput {
                severity: Severity::Error,
                category: Category::Provider,
                message: &message,
                kind: "Error",
                stack: Some(&format!("at f ({url}:1:2)")),
                context: &props,
                component: "background",
                page_url: Some(&url),
            }, T0, 0.5);
            let t0 = 1_700_000_000_000_000_000u64;
            let mut span = OpenSpan::root(&message, SpanKind::Client, (1, 2), 3, t0);
            span.set_attribute("url.full", url.as_str());
            span.set_attribute("prompt", page_text.as_str());
            span.add_event(&message, vec![("selection".into(), AttrValue::from(page_text.as_str()))], t0 + 1);
            span.set_status(SpanStatus::Error { message: message.clone() });
            e.span(span.finish(t0 + 2), T0);
            e.set_health("provider", Status::Down, &message, T0).unwrap();
            let c = e.metrics_mut().counter("pages", "", "").unwrap();
            e.metrics_mut().add_with(c, &[("page", url.as_str()), ("token", key.as_str())], 1);
            e.flush(T0 + 1.0, 0.5);
            let mut everything = bodies(&e);
            for q in [
                PanelQuery::Metrics,
                PanelQuery::Events { from_ms: 0.0, to_ms: 2e12, name: None, limit: 100 },
                PanelQuery::Errors { limit: 100 },
                PanelQuery::Health,
                PanelQuery::ChromeTrace { from_ns: 0, to_ns: u64::MAX },
            ] {
                everything.push_str(&serde_json::to_string(&e.query(&q)).unwrap());
            }
            prop_assert!(everything.contains("site.example"));
            prop_assert!(!everything.contains(&key), "key leaked");
            prop_assert!(!everything.contains(&path), "path leaked");
            prop_assert!(!everything.contains(&page_text), "page text leaked");
        }
    }
}
