//! Cost of a request: [`PriceTable`], the user-editable table of prices per
//! million tokens, in micro-USD.
//!
//! A pattern is a model id (`gpt-4o`) or a prefix ending in `*`
//! (`claude-sonnet-4*`). Lookup ignores ASCII case; an exact id wins over
//! prefixes and the longest prefix wins among them; an id with a vendor
//! part (`openai/gpt-4o` on OpenRouter) that matches nothing is tried again
//! without it. Models that match nothing cost 0, and so does every model on
//! a local server ([`ProviderSettings::is_local`]).
//!
//! [`PriceTable::defaults`] are the vendors' published list prices when this
//! was written: editable defaults that may be outdated.
//!
//! ```
//! use paperclip_core::provider::price::{format_usd, parse_usd, PriceTable};
//!
//! let table = PriceTable::defaults();
//! // gpt-4o-mini: $0.15 / $0.60 per million tokens
//! assert_eq!(table.cost_micro_usd("gpt-4o-mini-2024-07-18", 1_000_000, 100_000), 210_000);
//! assert_eq!(table.cost_micro_usd("llama3.2:3b", 5_000, 500), 0);
//! assert_eq!(parse_usd("2.50"), Ok(2_500_000));
//! assert_eq!(format_usd(2_500_000), "2.50");
//! ```

use serde::{Deserialize, Serialize};

use super::ProviderSettings;
use crate::conversation::Usage;

/// Most entries a table may have.
pub const MAX_ENTRIES: usize = 500;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 128;
/// Highest price: $10,000 per million tokens, in micro-USD.
pub const MAX_PRICE_MICRO_USD: u64 = 10_000_000_000;

const MICRO: u64 = 1_000_000;

/// The price of one model (or model family).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// Model id, or a prefix ending in `*`.
    pub pattern: String,
    /// Micro-USD per million input (prompt) tokens.
    pub input_per_mtok: u64,
    /// Micro-USD per million output (completion) tokens.
    pub output_per_mtok: u64,
}

impl PriceEntry {
    /// An entry with prices in whole micro-USD per million tokens.
    pub fn new(pattern: &str, input_per_mtok: u64, output_per_mtok: u64) -> Self {
        Self {
            pattern: pattern.to_owned(),
            input_per_mtok,
            output_per_mtok,
        }
    }

    /// The cost of these token counts, in micro-USD (rounded to nearest,
    /// saturating).
    pub fn cost_micro_usd(&self, tokens_in: u64, tokens_out: u64) -> u64 {
        let total = u128::from(tokens_in) * u128::from(self.input_per_mtok)
            + u128::from(tokens_out) * u128::from(self.output_per_mtok);
        u64::try_from((total + u128::from(MICRO / 2)) / u128::from(MICRO)).unwrap_or(u64::MAX)
    }
}

/// The user's price table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    /// Entries, in the user's order (order does not affect lookup).
    pub entries: Vec<PriceEntry>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::defaults()
    }
}

/// `$x.yz` per million tokens as micro-USD.
const fn usd(cents: u64) -> u64 {
    cents * 10_000
}

impl PriceTable {
    /// A few well-known models at their list prices (USD per million input /
    /// output tokens, as published in 2025). Editable defaults that may be
    /// outdated.
    pub fn defaults() -> Self {
        let rows: [(&str, u64, u64); 18] = [
            ("gpt-4o*", usd(250), usd(1000)),
            ("gpt-4o-mini*", usd(15), usd(60)),
            ("gpt-4.1*", usd(200), usd(800)),
            ("gpt-4.1-mini*", usd(40), usd(160)),
            ("gpt-4.1-nano*", usd(10), usd(40)),
            ("gpt-5*", usd(125), usd(1000)),
            ("gpt-5-mini*", usd(25), usd(200)),
            ("gpt-5-nano*", usd(5), usd(40)),
            ("o4-mini*", usd(110), usd(440)),
            // Opus 4 and 4.1 cost more than the later Opus 4.x models.
            ("claude-opus-4*", usd(500), usd(2500)),
            ("claude-opus-4-0*", usd(1500), usd(7500)),
            ("claude-opus-4-2025*", usd(1500), usd(7500)),
            ("claude-opus-4-1*", usd(1500), usd(7500)),
            ("claude-sonnet-4*", usd(300), usd(1500)),
            ("claude-3-7-sonnet*", usd(300), usd(1500)),
            ("claude-haiku-4*", usd(100), usd(500)),
            ("claude-3-5-haiku*", usd(80), usd(400)),
            ("claude-3-haiku*", usd(25), usd(125)),
        ];
        Self {
            entries: rows
                .iter()
                .map(|&(p, i, o)| PriceEntry::new(p, i, o))
                .collect(),
        }
    }

    /// Checks a table the user edited: at most [`MAX_ENTRIES`] entries;
    /// patterns trimmed, non-empty, at most [`MAX_PATTERN_LEN`] bytes,
    /// without spaces or control characters, `*` only at the end, no two
    /// equal (ignoring ASCII case); prices at most [`MAX_PRICE_MICRO_USD`].
    pub fn validate(mut self) -> Result<Self, PriceError> {
        if self.entries.len() > MAX_ENTRIES {
            return Err(PriceError::TooManyEntries { max: MAX_ENTRIES });
        }
        for (index, entry) in self.entries.iter_mut().enumerate() {
            entry.pattern = entry.pattern.trim().to_owned();
            check_entry(index, entry)?;
        }
        for (index, entry) in self.entries.iter().enumerate() {
            if self.entries[..index]
                .iter()
                .any(|e| e.pattern.eq_ignore_ascii_case(&entry.pattern))
            {
                return Err(PriceError::Duplicate {
                    index,
                    pattern: entry.pattern.clone(),
                });
            }
        }
        Ok(self)
    }

    /// The entry that prices `model` (see the module docs for the rule).
    pub fn lookup(&self, model: &str) -> Option<&PriceEntry> {
        self.lookup_exact_or_prefix(model).or_else(|| {
            let (_, name) = model.rsplit_once('/')?;
            self.lookup_exact_or_prefix(name)
        })
    }

    fn lookup_exact_or_prefix(&self, model: &str) -> Option<&PriceEntry> {
        let model = model.to_ascii_lowercase();
        if let Some(exact) = self
            .entries
            .iter()
            .find(|e| e.pattern.eq_ignore_ascii_case(&model))
        {
            return Some(exact);
        }
        self.entries
            .iter()
            .filter_map(|e| Some((e, e.pattern.strip_suffix('*')?)))
            .filter(|(_, prefix)| model.starts_with(&prefix.to_ascii_lowercase()))
            .max_by_key(|(_, prefix)| prefix.len())
            .map(|(e, _)| e)
    }

    /// The cost of a request to `model`, in micro-USD (0 when no entry
    /// matches).
    pub fn cost_micro_usd(&self, model: &str, tokens_in: u64, tokens_out: u64) -> u64 {
        self.lookup(model)
            .map_or(0, |e| e.cost_micro_usd(tokens_in, tokens_out))
    }

    /// The [`Usage`] of one request to the provider `settings` describe
    /// (cost 0 on a local server).
    pub fn usage(&self, settings: &ProviderSettings, tokens_in: u64, tokens_out: u64) -> Usage {
        let cost_micro_usd = if settings.is_local() {
            0
        } else {
            self.cost_micro_usd(&settings.model, tokens_in, tokens_out)
        };
        Usage {
            tokens_in,
            tokens_out,
            cost_micro_usd,
        }
    }
}

fn check_entry(index: usize, entry: &PriceEntry) -> Result<(), PriceError> {
    let p = &entry.pattern;
    let body = p.strip_suffix('*').unwrap_or(p);
    if body.is_empty() {
        return Err(PriceError::EmptyPattern { index });
    }
    if p.len() > MAX_PATTERN_LEN
        || body.contains('*')
        || p.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(PriceError::BadPattern { index });
    }
    if entry.input_per_mtok > MAX_PRICE_MICRO_USD || entry.output_per_mtok > MAX_PRICE_MICRO_USD {
        return Err(PriceError::PriceTooHigh {
            index,
            max: MAX_PRICE_MICRO_USD,
        });
    }
    Ok(())
}

impl PriceTable {
    /// The table as the options page edits it: one entry per line,
    /// `pattern input output`, prices in USD per million tokens.
    pub fn to_lines(&self) -> String {
        self.entries
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}\n",
                    e.pattern,
                    format_usd(e.input_per_mtok),
                    format_usd(e.output_per_mtok)
                )
            })
            .collect()
    }

    /// Reads [`PriceTable::to_lines`]'s format (blank lines and lines
    /// starting with `#` are skipped) and validates the table; an error
    /// names the line.
    pub fn parse_lines(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [pattern, input, output] = fields[..] else {
                return Err(format!(
                    "line {}: write `model-or-prefix* input output` (USD per million tokens)",
                    n + 1
                ));
            };
            let price = |t: &str| parse_usd(t).map_err(|e| format!("line {}: {e}", n + 1));
            entries.push(PriceEntry {
                pattern: pattern.to_owned(),
                input_per_mtok: price(input)?,
                output_per_mtok: price(output)?,
            });
        }
        Self { entries }.validate().map_err(|e| e.to_string())
    }
}

/// What is wrong with a price table or a typed price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// More than [`MAX_ENTRIES`] entries.
    #[error("a price table holds at most {max} entries")]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
    /// A pattern is empty (or just `*`).
    #[error("entry {index}: enter a model id or a prefix ending in *")]
    EmptyPattern {
        /// The entry's position.
        index: usize,
    },
    /// A pattern is too long, has spaces or a `*` not at the end.
    #[error("entry {index}: a pattern is a model id, or a prefix ending in * (no spaces, at most {MAX_PATTERN_LEN} characters)")]
    BadPattern {
        /// The entry's position.
        index: usize,
    },
    /// Two entries have the same pattern.
    #[error("entry {index}: {pattern} is already in the table")]
    Duplicate {
        /// The later entry's position.
        index: usize,
        /// The pattern.
        pattern: String,
    },
    /// A price is above the limit.
    #[error("entry {index}: a price is above the limit")]
    PriceTooHigh {
        /// The entry's position.
        index: usize,
        /// The limit in micro-USD.
        max: u64,
    },
    /// A typed price is not a non-negative amount with at most 6 decimals.
    #[error("enter a price in US dollars such as 2.50 (at most 6 decimals, not negative)")]
    InvalidAmount,
}

/// Parses a US-dollar amount as typed (`"2.5"`, `"$0.15"`, `"3"`) into
/// micro-USD, exactly (no floating point). At most 6 decimals and
/// [`MAX_PRICE_MICRO_USD`].
pub fn parse_usd(text: &str) -> Result<u64, PriceError> {
    let text = text.trim();
    let text = text.strip_prefix('$').unwrap_or(text).trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty())
        || !digits(whole)
        || !digits(frac)
        || frac.len() > 6
        || whole.len() > 12
    {
        return Err(PriceError::InvalidAmount);
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| PriceError::InvalidAmount)?
    };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}")
            .parse()
            .map_err(|_| PriceError::InvalidAmount)?
    };
    let micro = whole
        .checked_mul(MICRO)
        .and_then(|w| w.checked_add(frac))
        .ok_or(PriceError::InvalidAmount)?;
    if micro > MAX_PRICE_MICRO_USD {
        return Err(PriceError::InvalidAmount);
    }
    Ok(micro)
}

/// Formats micro-USD as dollars with at least 2 decimals and no trailing
/// zeros beyond them (`2.50`, `0.075`, `0.000001`).
pub fn format_usd(micro: u64) -> String {
    let frac = format!("{:06}", micro % MICRO);
    let trimmed = frac.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &frac[..2]
    } else {
        trimmed
    };
    format!("{}.{shown}", micro / MICRO)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::provider::ProviderKind;

    #[test]
    fn lookup_rules() {
        let t = PriceTable::defaults();
        let input = |m: &str| t.lookup(m).map(|e| e.input_per_mtok);
        assert_eq!(input("gpt-4o"), Some(usd(250)));
        assert_eq!(input("gpt-4o-2024-08-06"), Some(usd(250)));
        assert_eq!(input("gpt-4o-mini"), Some(usd(15)));
        assert_eq!(input("GPT-4o-Mini"), Some(usd(15)));
        assert_eq!(input("openai/gpt-4.1-nano"), Some(usd(10)));
        assert_eq!(input("claude-opus-4-20250514"), Some(usd(1500)));
        assert_eq!(input("claude-opus-4-0"), Some(usd(1500)));
        assert_eq!(input("claude-opus-4-1-20250805"), Some(usd(1500)));
        assert_eq!(input("claude-opus-4-5-20251101"), Some(usd(500)));
        assert_eq!(input("claude-opus-4-6"), Some(usd(500)));
        assert_eq!(input("claude-haiku-4-5"), Some(usd(100)));
        assert_eq!(input("claude-sonnet-4-5"), Some(usd(300)));
        assert_eq!(input("llama3.2:latest"), None);
        assert_eq!(input("gpt-"), None);
        let mut t = t;
        t.entries
            .push(PriceEntry::new("gpt-4o-mini-2024-07-18", 1, 2));
        assert_eq!(
            t.lookup("gpt-4o-mini-2024-07-18").map(|e| e.input_per_mtok),
            Some(1)
        );
        assert!(PriceTable::defaults().validate().is_ok());
    }

    #[test]
    fn cost_rounds_to_nearest_and_saturates() {
        let e = PriceEntry::new("m", usd(15), usd(60));
        assert_eq!(e.cost_micro_usd(0, 0), 0);
        assert_eq!(e.cost_micro_usd(1_000_000, 0), 150_000);
        assert_eq!(e.cost_micro_usd(3, 0), 0); // 0.45 µ$
        assert_eq!(e.cost_micro_usd(4, 0), 1); // 0.6 µ$
        assert_eq!(e.cost_micro_usd(19, 10), 9); // 2.85 + 6 µ$
        let big = PriceEntry::new("m", MAX_PRICE_MICRO_USD, MAX_PRICE_MICRO_USD);
        assert_eq!(big.cost_micro_usd(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn local_servers_cost_nothing() {
        let t = PriceTable::defaults();
        let local = ProviderSettings::new(
            "l",
            ProviderKind::OpenAiCompatible,
            "http://localhost:8080",
            "gpt-4o",
        );
        assert_eq!(
            t.usage(&local, 1000, 1000),
            Usage {
                tokens_in: 1000,
                tokens_out: 1000,
                cost_micro_usd: 0
            }
        );
        let remote = ProviderSettings::new(
            "r",
            ProviderKind::OpenAiCompatible,
            "https://api.openai.com",
            "gpt-4o",
        );
        assert_eq!(t.usage(&remote, 1_000_000, 0).cost_micro_usd, 2_500_000);
    }

    #[test]
    fn edits_are_validated() {
        let table = |entries: Vec<PriceEntry>| PriceTable { entries }.validate();
        assert_eq!(
            table(vec![PriceEntry::new(" x* ", 1, 1)]).unwrap().entries[0].pattern,
            "x*"
        );
        assert_eq!(
            table(vec![PriceEntry::new("*", 1, 1)]),
            Err(PriceError::EmptyPattern { index: 0 })
        );
        assert_eq!(
            table(vec![PriceEntry::new(" ", 1, 1)]),
            Err(PriceError::EmptyPattern { index: 0 })
        );
        assert_eq!(
            table(vec![PriceEntry::new("a*b", 1, 1)]),
            Err(PriceError::BadPattern { index: 0 })
        );
        assert_eq!(
            table(vec![PriceEntry::new("a b", 1, 1)]),
            Err(PriceError::BadPattern { index: 0 })
        );
        assert_eq!(
            table(vec![PriceEntry::new(&"a".repeat(200), 1, 1)]),
            Err(PriceError::BadPattern { index: 0 })
        );
        assert_eq!(
            table(vec![PriceEntry::new("a", 1, 1), PriceEntry::new("A", 2, 2)]),
            Err(PriceError::Duplicate {
                index: 1,
                pattern: "A".into()
            })
        );
        assert_eq!(
            table(vec![PriceEntry::new("a", 0, MAX_PRICE_MICRO_USD + 1)]),
            Err(PriceError::PriceTooHigh {
                index: 0,
                max: MAX_PRICE_MICRO_USD
            })
        );
        assert_eq!(
            table(vec![PriceEntry::new("a", 1, 1); MAX_ENTRIES + 1]),
            Err(PriceError::TooManyEntries { max: MAX_ENTRIES })
        );
    }

    #[test]
    fn amounts_parse_exactly() {
        for (text, want) in [
            ("2.50", 2_500_000),
            ("$0.15", 150_000),
            ("3", 3_000_000),
            (".5", 500_000),
            ("0.000001", 1),
            ("7.", 7_000_000),
            ("10000", MAX_PRICE_MICRO_USD),
        ] {
            assert_eq!(parse_usd(text), Ok(want), "{text}");
        }
        for text in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000001",
            "1,5",
            "abc",
            "10000.01",
            "99999999999999999999",
        ] {
            assert_eq!(parse_usd(text), Err(PriceError::InvalidAmount), "{text}");
        }
    }

    #[test]
    fn table_serde_round_trips() {
        let t = PriceTable::defaults();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<PriceTable>(&json).unwrap(), t);
        let bytes = postcard::to_allocvec(&t).unwrap();
        assert_eq!(postcard::from_bytes::<PriceTable>(&bytes).unwrap(), t);
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(micro in 0..=MAX_PRICE_MICRO_USD) {
            prop_assert_eq!(parse_usd(&format_usd(micro)), Ok(micro));
        }
    }

    #[test]
    fn lines_round_trip_and_errors_name_the_line() {
        let table = PriceTable::defaults();
        assert_eq!(PriceTable::parse_lines(&table.to_lines()), Ok(table));
        let t = PriceTable::parse_lines("# mine\n\nlocal-* 0 0\ngpt-x $1.5 2\n").unwrap();
        assert_eq!(t.entries[1], PriceEntry::new("gpt-x", 1_500_000, 2_000_000));
        let err = PriceTable::parse_lines("a 1 1\nb 1\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = PriceTable::parse_lines("a 1 x\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        assert!(
            PriceTable::parse_lines("a 1 1\nA 2 2").is_err(),
            "duplicate"
        );
    }
}
