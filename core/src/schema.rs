//! The IndexedDB schema and its migrations, as data.
//!
//! [`STORES`] is the layout of [`SCHEMA_VERSION`]; [`plan`] says which
//! steps take a database from one version to another. The background runs
//! the structural steps and the data steps inside the upgrade transaction,
//! so a failing migration aborts it and leaves the old data as it was.
//!
//! ```
//! use paperclip_core::schema::{plan, Step, SCHEMA_VERSION};
//!
//! let steps = plan(1, SCHEMA_VERSION).unwrap();
//! assert_eq!(steps.len(), 1);
//! assert!(steps[0].steps.contains(&Step::RewriteConversations));
//! ```

use std::collections::BTreeMap;

/// Schema version of this build.
pub const SCHEMA_VERSION: u32 = 2;

/// Store names.
pub mod store {
    /// Conversations, keyed by `id`.
    pub const CONVERSATIONS: &str = "conversations";
    /// The context cache, keyed by `key`.
    pub const CONTEXT_CACHE: &str = "context_cache";
    /// Preferences, keyed by `key`.
    pub const PREFERENCES: &str = "preferences";
    /// Telemetry records, auto-numbered `id`.
    pub const TELEMETRY: &str = "telemetry";
    /// Records that failed to decode, auto-numbered `id`.
    pub const QUARANTINE: &str = "quarantine";
    /// The engine's own state (cache statistics, settings version), keyed by `key`.
    pub const META: &str = "meta";
}

/// An index: its name, key path (one field, or several for a compound
/// key) and whether an array value indexes each element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    /// Index name.
    pub name: &'static str,
    /// Field(s) indexed.
    pub key_path: &'static [&'static str],
    /// Each element of an array field is a key (tags).
    pub multi_entry: bool,
}

const fn index(name: &'static str, key_path: &'static [&'static str]) -> IndexSpec {
    IndexSpec {
        name,
        key_path,
        multi_entry: false,
    }
}

/// An object store with its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpec {
    /// Store name.
    pub name: &'static str,
    /// In-line key field.
    pub key_path: &'static str,
    /// Keys are numbers made by IndexedDB.
    pub auto_increment: bool,
    /// Indexes.
    pub indexes: &'static [IndexSpec],
}

const V1_BY_UPDATED: IndexSpec = index("by_updated", &["updated"]);
const V1_BY_SITE_UPDATED: IndexSpec = index("by_site_updated", &["site", "updated"]);

/// Conversations newest first: `rank` is `-updated`, so one ascending
/// `getAll(range, count)` reads a page (ties by id, so cursors are exact).
pub const BY_RECENT: IndexSpec = index("by_recent", &["rank", "id"]);
/// Conversations of one site, newest first.
pub const BY_SITE_RECENT: IndexSpec = index("by_site_recent", &["site", "rank", "id"]);
/// Conversations by each of their tags.
pub const BY_TAG: IndexSpec = IndexSpec {
    name: "by_tag",
    key_path: &["tags"],
    multi_entry: true,
};
/// Conversations of one character, newest first.
pub const BY_AGENT_RECENT: IndexSpec = index("by_agent_recent", &["agent", "rank", "id"]);
/// Cache entries by last use (eviction order).
pub const BY_LAST_USED: IndexSpec = index("by_last_used", &["last_used"]);
/// Preferences by category.
pub const BY_CATEGORY: IndexSpec = index("by_category", &["category"]);
/// Telemetry and quarantine records by time.
pub const BY_TIME: IndexSpec = index("by_time", &["time"]);
/// Telemetry records of one kind by time.
pub const BY_KIND_TIME: IndexSpec = index("by_kind_time", &["kind", "time"]);

/// The layout of [`SCHEMA_VERSION`].
pub const STORES: &[StoreSpec] = &[
    StoreSpec {
        name: store::CONVERSATIONS,
        key_path: "id",
        auto_increment: false,
        indexes: &[BY_RECENT, BY_SITE_RECENT, BY_TAG, BY_AGENT_RECENT],
    },
    CONTEXT_CACHE_STORE,
    PREFERENCES_STORE,
    TELEMETRY_STORE,
    QUARANTINE_STORE,
    META_STORE,
];

const V1_CONVERSATIONS: StoreSpec = StoreSpec {
    name: store::CONVERSATIONS,
    key_path: "id",
    auto_increment: false,
    indexes: &[V1_BY_UPDATED, V1_BY_SITE_UPDATED],
};
const CONTEXT_CACHE_STORE: StoreSpec = StoreSpec {
    name: store::CONTEXT_CACHE,
    key_path: "key",
    auto_increment: false,
    indexes: &[BY_LAST_USED],
};
const PREFERENCES_STORE: StoreSpec = StoreSpec {
    name: store::PREFERENCES,
    key_path: "key",
    auto_increment: false,
    indexes: &[BY_CATEGORY],
};
const TELEMETRY_STORE: StoreSpec = StoreSpec {
    name: store::TELEMETRY,
    key_path: "id",
    auto_increment: true,
    indexes: &[BY_TIME, BY_KIND_TIME],
};
const QUARANTINE_STORE: StoreSpec = StoreSpec {
    name: store::QUARANTINE,
    key_path: "id",
    auto_increment: true,
    indexes: &[BY_TIME],
};
const META_STORE: StoreSpec = StoreSpec {
    name: store::META,
    key_path: "key",
    auto_increment: false,
    indexes: &[],
};

const V1_STORES: &[StoreSpec] = &[V1_CONVERSATIONS];

/// The layout of schema `version` (empty for unknown versions).
pub fn stores_at(version: u32) -> &'static [StoreSpec] {
    match version {
        1 => V1_STORES,
        SCHEMA_VERSION => STORES,
        _ => &[],
    }
}

/// One step of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create a store with its indexes.
    CreateStore(StoreSpec),
    /// Add an index to an existing store.
    CreateIndex {
        /// Store.
        store: &'static str,
        /// Index.
        index: IndexSpec,
    },
    /// Drop an index.
    DeleteIndex {
        /// Store.
        store: &'static str,
        /// Index name.
        index: &'static str,
    },
    /// Data: decode every conversation (any older encoding), write it back
    /// in the current encoding with the current indexed fields; records
    /// that do not decode move to the quarantine store.
    RewriteConversations,
}

/// The steps that take a database to version `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version reached.
    pub to: u32,
    /// What to do, in order: structure first, then data.
    pub steps: Vec<Step>,
}

/// Why there is no plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The database is newer than this build (an older Paperclip after a
    /// newer one ran): opening it would lose data.
    #[error("the database is at version {found}, newer than this Paperclip ({supported}); update Paperclip")]
    Newer {
        /// Version on disk.
        found: u32,
        /// [`SCHEMA_VERSION`].
        supported: u32,
    },
    /// Asked for a version this build does not know.
    #[error("unknown target version {0}")]
    UnknownTarget(u32),
}

fn migration_to(version: u32) -> Vec<Step> {
    match version {
        1 => vec![Step::CreateStore(V1_CONVERSATIONS)],
        2 => {
            let conversations = store::CONVERSATIONS;
            let mut steps = vec![
                Step::DeleteIndex {
                    store: conversations,
                    index: V1_BY_UPDATED.name,
                },
                Step::DeleteIndex {
                    store: conversations,
                    index: V1_BY_SITE_UPDATED.name,
                },
            ];
            steps.extend(
                [BY_RECENT, BY_SITE_RECENT, BY_TAG, BY_AGENT_RECENT].map(|index| {
                    Step::CreateIndex {
                        store: conversations,
                        index,
                    }
                }),
            );
            steps.extend(
                [
                    CONTEXT_CACHE_STORE,
                    PREFERENCES_STORE,
                    TELEMETRY_STORE,
                    QUARANTINE_STORE,
                    META_STORE,
                ]
                .map(Step::CreateStore),
            );
            steps.push(Step::RewriteConversations);
            steps
        }
        _ => unreachable!("versions are bounded by SCHEMA_VERSION"),
    }
}

/// The migrations from version `from` (0: no database yet) to `to`, in
/// order. Empty when `from == to`.
pub fn plan(from: u32, to: u32) -> Result<Vec<Migration>, SchemaError> {
    if to > SCHEMA_VERSION || to == 0 {
        return Err(SchemaError::UnknownTarget(to));
    }
    if from > to {
        return Err(SchemaError::Newer {
            found: from,
            supported: to,
        });
    }
    Ok((from + 1..=to)
        .map(|v| Migration {
            to: v,
            steps: migration_to(v),
        })
        .collect())
}

/// A store's shape as the browser would see it: key path, auto-increment
/// and index name → (key path, multi-entry).
pub type Layout = BTreeMap<&'static str, (&'static str, bool, BTreeMap<&'static str, IndexSpec>)>;

/// The layout `spec` describes.
pub fn layout_of(spec: &[StoreSpec]) -> Layout {
    spec.iter()
        .map(|s| {
            let indexes = s.indexes.iter().map(|i| (i.name, *i)).collect();
            (s.name, (s.key_path, s.auto_increment, indexes))
        })
        .collect()
}

/// Applies the structural steps of `migrations` to `layout` as the browser
/// would, failing where the browser would throw (a store created twice, a
/// missing index deleted).
pub fn apply(layout: &mut Layout, migrations: &[Migration]) -> Result<(), String> {
    for step in migrations.iter().flat_map(|m| &m.steps) {
        match step {
            Step::CreateStore(s) => {
                if layout.contains_key(s.name) {
                    return Err(format!("store {} exists", s.name));
                }
                layout.extend(layout_of(std::slice::from_ref(s)));
            }
            Step::CreateIndex { store, index } => {
                let (_, _, indexes) = layout.get_mut(store).ok_or(format!("no store {store}"))?;
                if indexes.insert(index.name, *index).is_some() {
                    return Err(format!("index {} exists", index.name));
                }
            }
            Step::DeleteIndex { store, index } => {
                let (_, _, indexes) = layout.get_mut(store).ok_or(format!("no store {store}"))?;
                indexes
                    .remove(index)
                    .ok_or(format!("no index {index} on {store}"))?;
            }
            Step::RewriteConversations => {
                if !layout.contains_key(store::CONVERSATIONS) {
                    return Err("no conversations to rewrite".into());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fresh_install_reaches_the_current_layout() {
        let mut layout = Layout::new();
        apply(&mut layout, &plan(0, SCHEMA_VERSION).unwrap()).unwrap();
        assert_eq!(layout, layout_of(STORES));
    }

    #[test]
    fn newer_databases_and_unknown_targets_are_refused() {
        assert_eq!(
            plan(SCHEMA_VERSION + 1, SCHEMA_VERSION),
            Err(SchemaError::Newer {
                found: SCHEMA_VERSION + 1,
                supported: SCHEMA_VERSION
            })
        );
        assert_eq!(
            plan(0, SCHEMA_VERSION + 1),
            Err(SchemaError::UnknownTarget(SCHEMA_VERSION + 1))
        );
        assert_eq!(plan(0, 0), Err(SchemaError::UnknownTarget(0)));
        assert_eq!(plan(SCHEMA_VERSION, SCHEMA_VERSION), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn every_path_is_contiguous_and_reaches_the_current_layout(from in 0..=SCHEMA_VERSION) {
            let mut layout = Layout::new();
            if from > 0 {
                apply(&mut layout, &plan(0, from).unwrap()).unwrap();
            }
            prop_assert_eq!(&layout, &layout_of(stores_at(from)));
            let rest = plan(from, SCHEMA_VERSION).unwrap();
            let versions: Vec<u32> = rest.iter().map(|m| m.to).collect();
            prop_assert_eq!(versions, (from + 1..=SCHEMA_VERSION).collect::<Vec<_>>());
            apply(&mut layout, &rest).unwrap();
            prop_assert_eq!(layout, layout_of(STORES));
        }

        #[test]
        fn plans_compose(a in 0..=SCHEMA_VERSION, b in 0..=SCHEMA_VERSION, c in 1..=SCHEMA_VERSION) {
            let (a, b, c) = {
                let mut v = [a, b.max(1), c];
                v.sort();
                (v[0], v[1], v[2])
            };
            let mut joined = plan(a, b).unwrap();
            joined.extend(plan(b, c).unwrap());
            prop_assert_eq!(joined, plan(a, c).unwrap());
        }

        #[test]
        fn data_steps_come_after_structure(from in 0..SCHEMA_VERSION) {
            for m in plan(from, SCHEMA_VERSION).unwrap() {
                let first_data = m.steps.iter().position(|s| *s == Step::RewriteConversations);
                if let Some(i) = first_data {
                    prop_assert!(m.steps[i..].iter().all(|s| *s == Step::RewriteConversations));
                }
            }
        }
    }
}
