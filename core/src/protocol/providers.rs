//! AI providers, their resilience settings and the price table.

use serde::{Deserialize, Serialize};

/// Asks for [`ProviderList`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ListProviders {}

/// The configured providers, in the user's order (the first is primary,
/// the second the fallback).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderList {
    /// Settings and whether a key is stored; never the key.
    pub providers: Vec<crate::provider::PublicProviderConfig>,
}

/// Puts the providers in the order of `ids`, which must name each configured
/// provider exactly once.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetProviderOrder {
    /// Every provider id, in the new order.
    pub ids: Vec<String>,
}

/// The providers in their new order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProvidersOrdered {
    /// Settings and whether a key is stored; never the key.
    pub providers: Vec<crate::provider::PublicProviderConfig>,
}

/// The resilience settings as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResilienceSaved {
    /// The settings now in force.
    pub settings: crate::resilience::settings::ResilienceSettings,
}

/// The price table as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PricesSaved {
    /// The table now in force.
    pub table: crate::provider::price::PriceTable,
}

/// Asks for [`ResilienceStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetResilience {}

/// Replaces the resilience settings (validated as a whole).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetResilience {
    /// The new settings.
    pub settings: crate::resilience::settings::ResilienceSettings,
}

/// One provider's circuit breaker as it stands.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BreakerStatus {
    /// The provider's id.
    pub provider_id: String,
    /// Closed, open or half-open.
    pub state: crate::resilience::breaker::BreakerState,
    /// Trips since it last closed.
    pub trips: u32,
    /// When an open breaker admits a probe (ms since the epoch).
    pub wake_at_ms: Option<u64>,
}

/// Resilience settings and state.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResilienceStatus {
    /// The settings in force.
    pub settings: crate::resilience::settings::ResilienceSettings,
    /// The breakers of the providers used since the background started or
    /// restored from storage.
    pub breakers: Vec<BreakerStatus>,
    /// Where the last answer came from.
    pub degradation: crate::resilience::fallback::Degradation,
}

/// Asks for [`PriceList`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPrices {}

/// Replaces the price table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetPrices {
    /// The new table; `None` restores the defaults.
    pub table: Option<crate::provider::price::PriceTable>,
}

/// The price table in force.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    /// Its entries.
    pub table: crate::provider::price::PriceTable,
    /// Whether it is the built-in table.
    pub defaults: bool,
}

/// What to do with a provider's stored key.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum KeyUpdate {
    /// Keep the stored key (or none).
    Keep,
    /// Forget the stored key.
    Clear,
    /// Store this key.
    Set {
        /// The key (this request is never logged).
        key: String,
    },
}

impl std::fmt::Debug for KeyUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Clear => f.write_str("Clear"),
            Self::Set { .. } => f.write_str("Set(***)"),
        }
    }
}

/// Adds or replaces (by id) a provider.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SaveProvider {
    /// The settings (validated by the background).
    pub settings: crate::provider::ProviderSettings,
    /// The key.
    pub key: KeyUpdate,
}

/// The provider as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderSaved {
    /// Settings and whether a key is stored.
    pub provider: crate::provider::PublicProviderConfig,
}

/// Removes provider `id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeleteProvider {
    /// The provider's id.
    pub id: String,
}

/// Whether a provider was removed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderDeleted {
    /// False when no provider had that id.
    pub existed: bool,
}

/// Tests provider `id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TestConnection {
    /// The provider's id.
    pub id: String,
}

/// The result of a connection test.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTested {
    /// Latency, the model list and whether the configured model is listed.
    pub report: crate::provider::ConnectionReport,
}

/// Looks for the local model servers (Ollama, LM Studio, llama.cpp) at
/// their usual addresses (the options page asked for access to exactly
/// those first).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct FindLocalModels {}

/// What "Find local models" found, one entry per server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LocalModelsFound {
    /// Every known server, in [`crate::provider::local::Server::ALL`]
    /// order.
    pub servers: Vec<crate::provider::local::Found>,
}

/// Asks for [`UsageReport`]: tokens and cost today and this month, per
/// provider, in the user's time zone.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct GetUsage {
    /// The time "today" is taken at (ms since the epoch); the background's
    /// clock when `None`.
    #[serde(default)]
    pub now_ms: Option<f64>,
    /// The user's offset from UTC in minutes, east positive (the negation
    /// of JavaScript's `Date.getTimezoneOffset()`).
    pub tz_offset_min: i32,
}

pub use crate::usage::UsageReport;
