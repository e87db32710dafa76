//! The `telemetry` store, as the telemetry engine's IndexedDB sink uses it
//! (rows come only from there): append, trim by retention and size, read
//! back by kind.

use paperclip_core::protocol::ProtocolError;
use paperclip_core::telemetry::persist::Row;

use super::Store;

impl Store {
    /// Appends telemetry rows.
    pub async fn telemetry_add(&self, rows: &[Row]) -> Result<(), ProtocolError> {
        self.backend.telemetry_add(rows).await
    }

    /// Applies the telemetry store's bounds at `now_ms`: rows past the
    /// retention go, then the oldest beyond the size bound
    /// ([`paperclip_core::telemetry::persist`]). Returns how many went.
    pub async fn telemetry_trim(&self, now_ms: f64) -> Result<u32, ProtocolError> {
        self.backend.telemetry_trim(now_ms).await
    }

    /// Telemetry rows of `kind` (`metric`, `event`, `error`, `span`),
    /// newest first, at most `limit`.
    pub async fn telemetry_rows(&self, kind: &str, limit: u32) -> Result<Vec<Row>, ProtocolError> {
        self.telemetry_between(kind, f64::NEG_INFINITY, f64::INFINITY, limit)
            .await
    }

    /// Telemetry rows of `kind` written in `[from_ms, to_ms]`, newest
    /// first, at most `limit`.
    pub async fn telemetry_between(
        &self,
        kind: &str,
        from_ms: f64,
        to_ms: f64,
        limit: u32,
    ) -> Result<Vec<Row>, ProtocolError> {
        self.backend
            .telemetry_rows(kind, from_ms, to_ms, limit)
            .await
    }
}
