//! Settings that follow you: the user's preferences (quick actions
//! included; never provider keys, conversations or telemetry) kept in the
//! browser's `storage.sync` when they turn on `privacy.sync_settings`.
//!
//! Each preference is one item `p:<key>` = `{"v": value, "t": ms}` (`t`:
//! when it last changed, on whichever device); a value too large for one
//! item is cut into pieces `p:<key>#0…` (strings) under a header `{"t",
//! "n"}`. Everything here is pure: the background reads the sync area,
//! [`decode`]s it (every value validated like the options page does; a bad
//! one is [`Refused`], never applied), [`merge`]s it with the local
//! preferences (the newest change of each key wins, ties broken the same
//! way on every device), applies what the remote side won and writes what
//! the local side won ([`plan`]: within the area's quotas, or not at all).
//! Writes are coalesced to one flush per [`WRITE_GAP_MS`].
//!
//! ```
//! use paperclip_core::sync::{decode, encode, merge, Local};
//! use serde_json::json;
//! let items: serde_json::Map<_, _> = encode("ui.theme", &json!("dark"), 5.0).into_iter().collect();
//! let (remote, refused) = decode(&items, 10.0);
//! assert!(refused.is_empty());
//! let local = [Local { key: "ui.theme".into(), value: json!("system"), t: 1.0 }];
//! let m = merge(&local, &remote);
//! assert_eq!(m.apply[0].value, json!("dark")); // newer wins
//! ```

use serde_json::{json, Map, Value};

use crate::prefs::{Preferences, KEYS};

/// `storage.sync`'s total quota (Chrome's `QUOTA_BYTES`).
pub const QUOTA_BYTES: usize = 102_400;
/// Its quota per item (`QUOTA_BYTES_PER_ITEM`: key plus JSON value).
pub const QUOTA_BYTES_PER_ITEM: usize = 8_192;
/// Its write operations per minute (`MAX_WRITE_OPERATIONS_PER_MINUTE`).
pub const MAX_WRITES_PER_MINUTE: u32 = 120;
/// At least this long between two flushes; a flush is at most two
/// operations (`set`, `remove`), so at most 60 a minute.
pub const WRITE_GAP_MS: u64 = 2_000;
/// The preference that turns syncing on (kept on each device, never
/// synced).
pub const TOGGLE: &str = "privacy.sync_settings";
/// How far in the future a change's time may be (clocks differ a little
/// between devices; a time beyond this would win every conflict forever).
pub const MAX_CLOCK_SKEW_MS: f64 = 24.0 * 3_600_000.0;
/// The most refusals kept to show.
pub const MAX_REFUSALS: usize = 20;

const PREFIX: &str = "p:";
/// Bytes of JSON text per piece (escaping may double it in the item).
const PIECE_BYTES: usize = 3_000;
/// The most pieces one value may have.
const MAX_PIECES: usize = 40;

/// Preferences that never travel: the switch itself, and remote
/// telemetry export, which sends data out of the browser and is turned on
/// on each device by its user (with Firefox's consent there).
pub const LOCAL_ONLY: [&str; 2] = [TOGGLE, "privacy.telemetry_remote"];

/// Whether preference `key` travels.
pub fn syncable(key: &str) -> bool {
    !LOCAL_ONLY.contains(&key) && KEYS.contains(&key)
}

/// A local preference: its value and when it last changed (0: never, the
/// default).
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// When it last changed, ms since the epoch.
    pub t: f64,
}

/// A valid preference found in the sync area.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// The key.
    pub key: String,
    /// The value, sanitized.
    pub value: Value,
    /// When it changed, ms since the epoch.
    pub t: f64,
}

/// Something in the sync area that was not applied, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    /// The item's key (shortened).
    pub key: String,
    /// Why.
    pub reason: String,
}

fn item_key(key: &str) -> String {
    format!("{PREFIX}{key}")
}

fn piece_key(key: &str, i: usize) -> String {
    format!("{PREFIX}{key}#{i}")
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The size `storage.sync` counts for an item.
pub fn item_size(key: &str, value: &Value) -> usize {
    key.len() + value.to_string().len()
}

/// The items that hold `key` = `value`, changed at `t`.
pub fn encode(key: &str, value: &Value, t: f64) -> Vec<(String, Value)> {
    let whole = json!({"v": value, "t": t});
    if item_size(&item_key(key), &whole) <= QUOTA_BYTES_PER_ITEM {
        return vec![(item_key(key), whole)];
    }
    let text = value.to_string();
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut at = rest.len().min(PIECE_BYTES);
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        pieces.push(&rest[..at]);
        rest = &rest[at..];
    }
    let mut items = vec![(item_key(key), json!({"t": t, "n": pieces.len()}))];
    items.extend(
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, p)| (piece_key(key, i), Value::from(p))),
    );
    items
}

/// The valid preferences in the sync area `items`, and what was refused:
/// an unknown or non-syncing key, a malformed item, a time in the future
/// (beyond [`MAX_CLOCK_SKEW_MS`] from `now_ms`), or a value the
/// preference does not accept.
pub fn decode(items: &Map<String, Value>, now_ms: f64) -> (Vec<Remote>, Vec<Refused>) {
    let mut remote = Vec::new();
    let mut refused = Vec::new();
    for (name, item) in items {
        let Some(key) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if key.contains('#') {
            continue; // a piece, read with its header
        }
        let mut refuse = |reason: String| {
            refused.push(Refused {
                key: short(key),
                reason,
            })
        };
        if !syncable(key) {
            refuse("not a setting that syncs".into());
            continue;
        }
        let t = match item["t"].as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => t,
            _ => {
                refuse("no valid change time".into());
                continue;
            }
        };
        if t > now_ms + MAX_CLOCK_SKEW_MS {
            refuse("its change time is in the future".into());
            continue;
        }
        let value = if let Some(v) = item.get("v") {
            v.clone()
        } else {
            match assemble(items, key, &item["n"]) {
                Ok(v) => v,
                Err(why) => {
                    refuse(why);
                    continue;
                }
            }
        };
        match Preferences::validate(key, &value) {
            Ok(value) => remote.push(Remote {
                key: key.to_string(),
                value,
                t,
            }),
            Err(e) => refuse(e.reason),
        }
    }
    (remote, refused)
}

fn assemble(items: &Map<String, Value>, key: &str, n: &Value) -> Result<Value, String> {
    let n = n
        .as_u64()
        .filter(|n| (1..=MAX_PIECES as u64).contains(n))
        .ok_or("neither a value nor a valid number of pieces")? as usize;
    let mut text = String::new();
    for i in 0..n {
        let piece = items
            .get(&piece_key(key, i))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("piece {i} of {n} is missing"))?;
        text.push_str(piece);
    }
    serde_json::from_str(&text).map_err(|e| format!("its pieces are not JSON: {e}"))
}

/// What a merge decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merge {
    /// Remote values to apply here (with their times).
    pub apply: Vec<Remote>,
    /// Local values to write to the sync area.
    pub push: Vec<Local>,
}

/// The newest change of each key wins; a preference never changed here
/// (`t` 0) is not pushed; equal times with different values are decided
/// by comparing the values' JSON text, the same on every device.
pub fn merge(local: &[Local], remote: &[Remote]) -> Merge {
    let mut out = Merge::default();
    for l in local.iter().filter(|l| syncable(&l.key)) {
        match remote.iter().find(|r| r.key == l.key) {
            None if l.t > 0.0 => out.push.push(l.clone()),
            None => {}
            Some(r) if r.value == l.value => {}
            Some(r) => {
                let (rv, lv) = (r.value.to_string(), l.value.to_string());
                let remote_wins = r.t > l.t || (r.t == l.t && rv > lv);
                if remote_wins {
                    out.apply.push(r.clone());
                } else {
                    out.push.push(l.clone());
                }
            }
        }
    }
    out
}

/// One flush: items to set and keys to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Items to write.
    pub set: Vec<(String, Value)>,
    /// Keys to remove (pieces a shorter value no longer needs).
    pub remove: Vec<String>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// What writing `push` to the sync area holding `current` takes, or why
/// it cannot be done (the area's total quota would be exceeded; then
/// nothing is written).
pub fn plan(current: &Map<String, Value>, push: &[Local]) -> Result<Plan, String> {
    let mut after = current.clone();
    let mut out = Plan::default();
    for l in push {
        let items = encode(&l.key, &l.value, l.t);
        let stale: Vec<String> = after
            .keys()
            .filter(|k| k.starts_with(&format!("{}#", item_key(&l.key))))
            .filter(|k| !items.iter().any(|(n, _)| n == *k))
            .cloned()
            .collect();
        for k in stale {
            after.remove(&k);
            out.remove.push(k);
        }
        for (k, v) in items {
            after.insert(k.clone(), v.clone());
            out.set.push((k, v));
        }
    }
    let total: usize = after.iter().map(|(k, v)| item_size(k, v)).sum();
    if total > QUOTA_BYTES {
        return Err(format!(
            "the settings take {total} bytes, more than the {QUOTA_BYTES} the browser syncs; nothing was synced"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(items: Vec<(String, Value)>) -> Map<String, Value> {
        items.into_iter().collect()
    }

    fn actions(n: usize) -> Value {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("Action {i}"), "template": format!("{i} {}", "é\"x".repeat(600)), "needs_selection": false}))
            .collect();
        Value::Array(list)
    }

    #[test]
    fn a_large_value_is_cut_into_pieces_within_the_item_quota() {
        let value = actions(12);
        let items = encode("agent.quick_actions", &value, 7.0);
        assert!(items.len() > 2, "{}", items.len());
        for (k, v) in &items {
            assert!(item_size(k, v) <= QUOTA_BYTES_PER_ITEM, "{k}");
        }
        let (remote, refused) = decode(&map(items), 10.0);
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(
            remote[0].value,
            Preferences::validate("agent.quick_actions", &value).unwrap()
        );
        assert_eq!(remote[0].t, 7.0);
    }

    #[test]
    fn hostile_items_are_refused_with_their_reason() {
        let now = 1_000_000.0;
        let items = map(vec![
            ("p:ui.theme".into(), json!({"v": "<script>", "t": 5})),
            ("p:privacy.sync_settings".into(), json!({"v": true, "t": 5})),
            ("p:provider.key".into(), json!({"v": "sk-1", "t": 5})),
            (
                "p:ui.font_scale".into(),
                json!({"v": 1.2, "t": now + 2.0 * MAX_CLOCK_SKEW_MS}),
            ),
            ("p:ui.reduced_motion".into(), json!({"v": "always"})),
            ("p:agent.quick_actions".into(), json!({"t": 5, "n": 2})),
            ("p:agent.quick_actions#0".into(), json!("[")),
            ("p:agent.hint_sites".into(), json!({"t": 5, "n": 1000})),
            ("other".into(), json!(1)),
            ("p:ui.theme#x".into(), json!(1)),
            (
                "p:agent.character".into(),
                json!({"v": "clippette", "t": 5}),
            ),
        ]);
        let (remote, refused) = decode(&items, now);
        assert_eq!(remote.len(), 1);
        assert_eq!(remote[0].key, "agent.character");
        let why = |k: &str| {
            refused
                .iter()
                .find(|r| r.key == k)
                .map(|r| r.reason.clone())
                .unwrap_or_default()
        };
        assert!(why("ui.theme").contains("is not one of"), "{refused:?}");
        assert_eq!(why("privacy.sync_settings"), "not a setting that syncs");
        assert_eq!(why("provider.key"), "not a setting that syncs");
        assert!(!syncable("privacy.telemetry_remote") && syncable("privacy.context.full_url"));
        assert_eq!(why("ui.font_scale"), "its change time is in the future");
        assert_eq!(why("ui.reduced_motion"), "no valid change time");
        assert_eq!(why("agent.quick_actions"), "piece 1 of 2 is missing");
        assert!(why("agent.hint_sites").contains("number of pieces"));
        assert_eq!(refused.len(), 7);
    }

    #[test]
    fn the_newest_change_wins_and_ties_agree() {
        let l = |k: &str, v: Value, t: f64| Local {
            key: k.into(),
            value: v,
            t,
        };
        let r = |k: &str, v: Value, t: f64| Remote {
            key: k.into(),
            value: v,
            t,
        };
        let local = [
            l("ui.theme", json!("dark"), 10.0),
            l("ui.font_scale", json!(1.0), 0.0),
            l("agent.character", json!("clippy"), 20.0),
            l("ui.reduced_motion", json!("always"), 5.0),
            l("privacy.sync_settings", json!(true), 30.0),
        ];
        let remote = [
            r("ui.theme", json!("light"), 11.0),
            r("agent.character", json!("clippette"), 19.0),
            r("ui.reduced_motion", json!("never"), 5.0),
        ];
        let m = merge(&local, &remote);
        let applied: Vec<&str> = m.apply.iter().map(|r| r.key.as_str()).collect();
        let pushed: Vec<&str> = m.push.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(applied, ["ui.theme", "ui.reduced_motion"]);
        assert_eq!(pushed, ["agent.character"]);
        // The other device, holding the remote values, decides the same.
        let other_local = [l("ui.reduced_motion", json!("never"), 5.0)];
        let other_remote = [r("ui.reduced_motion", json!("always"), 5.0)];
        assert!(merge(&other_local, &other_remote).apply.is_empty());
    }

    #[test]
    fn a_plan_removes_stale_pieces_and_keeps_within_the_total_quota() {
        let big = Local {
            key: "agent.quick_actions".into(),
            value: actions(12),
            t: 1.0,
        };
        let first = plan(&Map::new(), &[big]).unwrap();
        let current = map(first.set.clone());
        let small = Local {
            key: "agent.quick_actions".into(),
            value: actions(1),
            t: 2.0,
        };
        let second = plan(&current, &[small]).unwrap();
        assert!(!second.remove.is_empty());
        assert!(second
            .remove
            .iter()
            .all(|k| k.starts_with("p:agent.quick_actions#")));
        // A sync area already nearly full refuses the write.
        let mut full = Map::new();
        for i in 0..13 {
            full.insert(format!("x{i}"), Value::from("y".repeat(8_000)));
        }
        let e = plan(
            &full,
            &[Local {
                key: "ui.theme".into(),
                value: json!("dark"),
                t: 1.0,
            }],
        )
        .unwrap_err();
        assert!(e.contains("more than the 102400"), "{e}");
    }

    proptest! {
        #[test]
        fn any_value_round_trips_through_items(text in ".{0,10000}", t in 0.0f64..1e13) {
            let value = Value::String(text);
            let items = encode("agent.quick_actions", &value, t);
            for (k, v) in &items {
                prop_assert!(item_size(k, v) <= QUOTA_BYTES_PER_ITEM);
            }
            // (A string is not a valid list of actions: assembled, then refused.)
            let (remote, refused) = decode(&map(items), t);
            prop_assert!(remote.is_empty());
            prop_assert_eq!(refused.len(), 1);
            prop_assert!(refused[0].reason.contains("expected a list of actions"), "{:?}", refused);
        }
    }
}
