//! Error records from everywhere in the worker, each with its severity and
//! category (`paperclip_core::telemetry::errors`): panics (fatal, worker),
//! provider requests that failed (provider or network), storage operations
//! that failed and records quarantined (storage), messages refused at the
//! boundary (protocol), exporters that failed (telemetry) and pages that
//! could not be read (page). Context is scrubbed by the engine like every
//! record; nothing here carries page text, a URL or a key.
//!
//! The same events set the health of the components they concern
//! (`storage`, `page reading`, `exporter`, and `worker` from its start;
//! providers' health follows their breakers in `resilient`), with the
//! reason and since when.

use js_sys::Reflect;
use paperclip_core::protocol::{ErrorKind, ProtocolError, SetErrorTriage};
use paperclip_core::resilience::FailureKind;
use paperclip_core::telemetry::errors::{Category, ErrorInput, Severity};
use paperclip_core::telemetry::health::Status;
use paperclip_core::telemetry::triage::TriageBook;
use paperclip_core::telemetry::AttrValue;

use crate::store::Store;
use crate::telemetry::{random, with};

/// The `meta` record of the error groups' triage.
pub const TRIAGE_META: &str = "telemetry.triage";

/// The groups resolved or muted in the panel.
pub async fn triage(store: &Store) -> TriageBook {
    store
        .meta_json(TRIAGE_META)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Resolves, mutes or reopens a group (nothing changes when refused).
pub async fn set_triage(store: &Store, r: SetErrorTriage) -> Result<TriageBook, ProtocolError> {
    let mut book = triage(store).await;
    book.set(r.fingerprint, r.triage)
        .map_err(|e| ProtocolError::new(ErrorKind::Malformed, e.to_string()))?;
    store.set_meta_json(TRIAGE_META, &book).await?;
    Ok(book)
}

/// Records an error.
pub fn report(
    severity: Severity,
    category: Category,
    component: &str,
    kind: &str,
    message: &str,
    context: &[(&str, &str)],
) {
    let context: Vec<(&str, AttrValue)> = context
        .iter()
        .map(|(k, v)| (*k, AttrValue::from(*v)))
        .collect();
    with(|e, now| {
        e.error(
            ErrorInput {
                severity,
                category,
                message,
                kind,
                stack: None,
                context: &context,
                component,
                page_url: None,
            },
            now,
            random(),
        )
    });
}

/// Turns the worker's panics into fatal error records (and logs them).
pub fn set_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let stack = Reflect::get(&js_sys::Error::new("panic"), &"stack".into())
            .ok()
            .and_then(|s| s.as_string());
        let message = info.to_string();
        with(|e, now| {
            e.error(
                ErrorInput {
                    severity: Severity::Fatal,
                    category: Category::Worker,
                    message: &message,
                    kind: "panic",
                    stack: stack.as_deref(),
                    context: &[],
                    component: "background",
                    page_url: None,
                },
                now,
                random(),
            )
        });
    }));
}

/// A request to provider `provider` (its id) failed as `kind` after
/// `attempts`, for ask `ask`; the chain goes on (a warning).
pub fn provider_failed(provider: &str, ask: &str, kind: FailureKind, message: &str) {
    if kind == FailureKind::Cancelled {
        return;
    }
    let category = match kind {
        FailureKind::Network | FailureKind::Timeout(_) => Category::Network,
        _ => Category::Provider,
    };
    report(
        Severity::Warning,
        category,
        "provider",
        &format!("provider.{}", kind.as_str()),
        message,
        &[("provider.id", provider), ("ask", ask)],
    );
}

/// Sets `component`'s health, with why.
pub fn health(component: &str, status: Status, reason: &str) {
    with(|e, now| e.set_health(component, status, reason, now));
}

/// The worker started; storage is persistent or not (`notice`: why).
pub fn started(persistent: bool, notice: Option<&str>) {
    health("worker", Status::Healthy, "running");
    match persistent {
        true => health("storage", Status::Healthy, "IndexedDB is open"),
        false => health(
            "storage",
            Status::Down,
            notice.unwrap_or("IndexedDB could not be opened: history is kept in memory"),
        ),
    }
}

/// Storage operation `op` ended (`ok` or not).
pub fn storage_operation(op: &str, ok: bool) {
    let status = with(|e, _| e.health().get("storage").map(|c| c.status)).flatten();
    if ok {
        // Back to healthy only from a failure, never over "down" (no
        // IndexedDB at all).
        if status == Some(Status::Degraded) {
            health("storage", Status::Healthy, "operations succeed again");
        }
        return;
    }
    if status != Some(Status::Down) {
        health(
            "storage",
            Status::Degraded,
            &format!("the operation `{op}` failed"),
        );
    }
    storage_failed(op);
}

/// Storage operation `op` failed.
fn storage_failed(op: &str) {
    report(
        Severity::Error,
        Category::Storage,
        "storage",
        "storage.operation",
        &format!("the storage operation `{op}` failed"),
        &[("op", op)],
    );
}

/// A record of `store` could not be read and was set aside.
pub fn quarantined(store: &str, why: &str) {
    report(
        Severity::Warning,
        Category::Storage,
        "storage",
        "storage.quarantine",
        &format!("{store}: {why}"),
        &[("store", store)],
    );
}

/// A message from `from` (a context: `agent`, `popup`, ...) was refused.
/// Only refusals at the boundary are recorded (a forbidden, malformed,
/// unknown or wrong-version message), not a request that failed its
/// checks (the user sees those).
pub fn refused(from: &str, error: &ProtocolError) {
    let (severity, kind) = match error.kind {
        ErrorKind::Forbidden => (Severity::Warning, "protocol.forbidden"),
        ErrorKind::Malformed => (Severity::Info, "protocol.malformed"),
        ErrorKind::UnknownType => (Severity::Info, "protocol.unknown_type"),
        ErrorKind::UnsupportedVersion => (Severity::Info, "protocol.unsupported_version"),
        ErrorKind::TooLarge => (Severity::Warning, "protocol.too_large"),
        ErrorKind::Failed => return,
    };
    report(
        severity,
        Category::Protocol,
        "protocol",
        kind,
        &error.message,
        &[("from", from)],
    );
}

/// An export was sent (`ok`: the collector took it).
pub fn exported(ok: bool, why: &str) {
    if ok {
        health("exporter", Status::Healthy, "the last export was accepted");
        return;
    }
    health(
        "exporter",
        Status::Degraded,
        &format!("the last export failed: {why}"),
    );
    exporter_failed(why);
}

/// An exporter failed (`why`: `http 503`, `network`).
fn exporter_failed(why: &str) {
    report(
        Severity::Warning,
        Category::Telemetry,
        "exporter",
        "telemetry.export",
        &format!("a telemetry export failed: {why}"),
        &[],
    );
}

/// A page was read.
pub fn page_read() {
    health("page reading", Status::Healthy, "the last page was read");
}

/// The page of a tab could not be read.
pub fn page_unread(error: &ProtocolError) {
    health("page reading", Status::Degraded, &error.message);
    report(
        Severity::Warning,
        Category::Page,
        "page",
        "page.read",
        &error.message,
        &[],
    );
}
