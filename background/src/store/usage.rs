//! The usage ledger: tokens and cost per local day and provider
//! ([`paperclip_core::usage::Ledger`]), one JSON `meta` record
//! ([`META_USAGE`]) changed in one transaction per answer.

use paperclip_core::conversation::Usage;
use paperclip_core::protocol::{ProtocolError, Topic, UsageReport};
use paperclip_core::usage::{self, Ledger};

use super::{report, storage_error, to_js, Observation, Store};

/// The `meta` record holding the ledger.
pub const META_USAGE: &str = "usage.ledger";

fn parse(text: &str) -> Result<Ledger, ProtocolError> {
    serde_json::from_str(text).map_err(|e| storage_error(format!("meta {META_USAGE}: {e}")))
}

impl Store {
    /// Adds one answer's `usage` to `provider` (its name) on the local day
    /// of `now_ms` (`tz_offset_min` east of UTC); days past
    /// [`usage::KEEP_DAYS`] are dropped in the same write. A ledger that
    /// does not parse is an error and is left as it is.
    pub async fn record_daily_usage(
        &self,
        provider: &str,
        usage: Usage,
        now_ms: f64,
        tz_offset_min: i32,
    ) -> Result<(), ProtocolError> {
        usage::check(now_ms, tz_offset_min).map_err(|e| ProtocolError::failed(e.to_string()))?;
        let provider = provider.to_string();
        self.backend
            .meta_modify(
                META_USAGE,
                Box::new(move |stored| {
                    let mut ledger = match stored.and_then(|v| v.as_string()) {
                        Some(text) => parse(&text)?,
                        None => Ledger::default(),
                    };
                    ledger.record(now_ms, tz_offset_min, &provider, usage);
                    to_js(&serde_json::to_string(&ledger).map_err(storage_error)?)
                }),
            )
            .await?;
        report(Observation::Changed(Topic::Usage));
        Ok(())
    }

    /// Usage today and this month per provider, as of `now_ms` in the zone
    /// `tz_offset_min` east of UTC (both checked).
    pub async fn usage_report(
        &self,
        now_ms: f64,
        tz_offset_min: i32,
    ) -> Result<UsageReport, ProtocolError> {
        usage::check(now_ms, tz_offset_min).map_err(|e| ProtocolError::failed(e.to_string()))?;
        let ledger = match self
            .backend
            .meta_get(META_USAGE)
            .await?
            .and_then(|v| v.as_string())
        {
            Some(text) => parse(&text)?,
            None => Ledger::default(),
        };
        Ok(ledger.report(now_ms, tz_offset_min))
    }
}
