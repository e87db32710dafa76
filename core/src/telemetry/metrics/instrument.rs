//! Instruments: their kinds ([`InstrumentKind`]) and descriptors, the
//! registration errors ([`MetricError`]), the typed handles ([`Counter`],
//! [`UpDownCounter`], [`Gauge`], [`Histogram`]) that a
//! [`Registry`](super::Registry) hands out and the bound label set handle
//! [`Series`] that the hot path records through.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// The kinds of instrument.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// A monotonic sum (`u64` increments).
    Counter,
    /// A sum that goes up and down (`i64` increments).
    UpDownCounter,
    /// The last value set.
    Gauge,
    /// A distribution (a [`Sketch`](crate::telemetry::sketch::Sketch)).
    Histogram,
}

/// What an instrument is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Its name (`provider.latency`).
    pub name: String,
    /// Its kind.
    pub kind: InstrumentKind,
    /// Its unit (UCUM: `ms`, `By`, `{request}`).
    pub unit: String,
    /// What it measures.
    pub description: String,
}

/// An instrument that cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// Not an OpenTelemetry instrument name (a letter, then up to 254
    /// letters, digits, `_`, `.`, `-` or `/`).
    #[error("invalid instrument name {0:?}")]
    InvalidName(String),
    /// The name is registered with another kind.
    #[error("instrument {name} is a {existing:?}, not a {requested:?}")]
    KindMismatch {
        /// The name.
        name: String,
        /// Its registered kind.
        existing: InstrumentKind,
        /// The kind asked for.
        requested: InstrumentKind,
    },
    /// [`MetricsConfig::max_instruments`](super::MetricsConfig::max_instruments)
    /// are registered.
    #[error("too many instruments ({0})")]
    TooManyInstruments(u32),
}

mod sealed {
    pub trait Sealed {}
}

/// An instrument handle ([`Counter`], [`UpDownCounter`], [`Gauge`],
/// [`Histogram`]).
pub trait Instrument: Copy + sealed::Sealed {
    /// Its kind.
    const KIND: InstrumentKind;
    /// Its index in the registry.
    fn index(self) -> u32;
    /// The handle of index `i`.
    #[doc(hidden)]
    fn from_index(i: u32) -> Self;
}

macro_rules! instrument {
    ($name:ident, $kind:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub(super) u32);

        impl sealed::Sealed for $name {}

        impl Instrument for $name {
            const KIND: InstrumentKind = InstrumentKind::$kind;
            fn index(self) -> u32 {
                self.0
            }
            fn from_index(i: u32) -> Self {
                Self(i)
            }
        }
    };
}

instrument!(Counter, Counter, "A counter's handle.");
instrument!(UpDownCounter, UpDownCounter, "An up-down counter's handle.");
instrument!(Gauge, Gauge, "A gauge's handle.");
instrument!(Histogram, Histogram, "A histogram's handle.");

/// A bound label set of an instrument: the hot path's handle.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Series<I> {
    pub(super) instrument: u32,
    pub(super) series: u32,
    pub(super) kind: PhantomData<I>,
}

impl<I> Clone for Series<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Series<I> {}

/// Whether `name` is an OpenTelemetry instrument name.
pub(super) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'))
}
