//! Conversations in IndexedDB: listing through the compound indexes (site,
//! character, tag), reading, read-modify-write in one transaction, import
//! all or nothing, and sizes for the cleanup job.

use std::collections::{HashMap, HashSet};

use js_sys::Reflect;
use paperclip_core::conversation::{Conversation, ConversationSummary};
use paperclip_core::export::{plan_import, ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::ProtocolError;
use paperclip_core::query::{self, Cursor, Filter};
use paperclip_core::schema::{self, store};
use rexie::{KeyRange, TransactionMode};
use wasm_bindgen::JsValue;

use super::super::backend::{Change, Page, StoredSize};
use super::super::records;
use super::{after_key, done, prefix_range, write_and_commit, IndexedDb};
use crate::store::storage_error;

/// Records read at a time for their sizes.
const SIZE_BATCH: u32 = 100;

impl IndexedDb {
    pub(super) async fn list_conversations(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, ProtocolError> {
        let mut items = Vec::new();
        if let Some(tag) = &filter.tag {
            self.list_by_tag(tag, filter, cursor.as_ref(), &mut items)
                .await?;
        } else {
            self.list_scan(filter, cursor, limit, &mut items).await?;
        }
        let next = (items.len() > limit).then(|| Cursor::after(&items[limit - 1]));
        items.truncate(limit);
        Ok((items, next))
    }

    /// Reads a `(…, rank, id)` index in ascending key order (newest
    /// first), a batch per `getAll`, until `limit + 1` matches.
    async fn list_scan(
        &self,
        filter: &Filter,
        mut cursor: Option<Cursor>,
        limit: usize,
        items: &mut Vec<ConversationSummary>,
    ) -> Result<(), ProtocolError> {
        let batch = if filter.needs_text() {
            100
        } else {
            limit as u32 + 1
        };
        let (index, lead) = match (&filter.site, &filter.agent) {
            (Some(site), _) => (schema::BY_SITE_RECENT.name, Some(site.clone())),
            (None, Some(agent)) => (schema::BY_AGENT_RECENT.name, Some(agent.clone())),
            (None, None) => (schema::BY_RECENT.name, None),
        };
        if cursor.is_none() {
            if let Some(to) = filter.to_ms {
                // Starts at `to` (items updated at `to` are filtered below).
                cursor = Some(Cursor {
                    updated_ms: to,
                    id: String::new(),
                });
            }
        }
        loop {
            let range = match &lead {
                Some(lead) => Some(prefix_range(lead, cursor.as_ref())?),
                None => cursor
                    .as_ref()
                    .map(|c| KeyRange::lower_bound(&after_key(&[], c), Some(true)))
                    .transpose()
                    .map_err(storage_error)?,
            };
            let rows = {
                let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                s[0].index(index)
                    .map_err(storage_error)?
                    .get_all(range, Some(batch))
                    .await
                    .map_err(storage_error)?
            };
            let exhausted = (rows.len() as u32) < batch;
            for value in &rows {
                let head = match records::decode_head(value) {
                    Ok(h) => h,
                    Err(e) => {
                        self.quarantine(store::CONVERSATIONS, value, &e).await;
                        continue;
                    }
                };
                let summary = head.summary();
                cursor = Some(Cursor::after(&summary));
                if filter.from_ms.is_some_and(|from| summary.updated_ms < from) {
                    return Ok(());
                }
                if !filter.fields_match(&summary) {
                    continue;
                }
                if filter.needs_text() {
                    match records::decode_conversation(value) {
                        Ok(c) if filter.matches(&c) => {}
                        Ok(_) => continue,
                        Err(e) => {
                            self.quarantine(store::CONVERSATIONS, value, &e).await;
                            continue;
                        }
                    }
                }
                items.push(summary);
                if items.len() > limit {
                    return Ok(());
                }
            }
            if exhausted {
                return Ok(());
            }
        }
    }

    /// Lists the conversations with `tag` (the multi-entry index), sorted
    /// and paged in memory: tags are selective.
    async fn list_by_tag(
        &self,
        tag: &str,
        filter: &Filter,
        cursor: Option<&Cursor>,
        items: &mut Vec<ConversationSummary>,
    ) -> Result<(), ProtocolError> {
        let rows = {
            let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            let range = KeyRange::only(&tag.into()).map_err(storage_error)?;
            s[0].index(schema::BY_TAG.name)
                .map_err(storage_error)?
                .get_all(Some(range), None)
                .await
                .map_err(storage_error)?
        };
        let mut found = Vec::new();
        for value in &rows {
            match records::decode_conversation(value) {
                Ok(c) => found.push(c),
                Err(e) => self.quarantine(store::CONVERSATIONS, value, &e).await,
            }
        }
        let (page, _) = query::page(&found, filter, cursor, query::MAX_PAGE);
        items.extend(page);
        Ok(())
    }

    pub(super) async fn get_conversation(
        &self,
        id: &str,
    ) -> Result<Option<Conversation>, ProtocolError> {
        let value = {
            let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            s[0].get(id.into()).await.map_err(storage_error)?
        };
        self.decode_or_quarantine(value).await
    }

    async fn decode_or_quarantine(
        &self,
        value: Option<JsValue>,
    ) -> Result<Option<Conversation>, ProtocolError> {
        let Some(value) = value else { return Ok(None) };
        match records::decode_conversation(&value) {
            Ok(c) => Ok(Some(c)),
            Err(e) => {
                self.quarantine(store::CONVERSATIONS, &value, &e).await;
                Ok(None)
            }
        }
    }

    pub(super) async fn latest_of_site(
        &self,
        site: &str,
    ) -> Result<Option<Conversation>, ProtocolError> {
        // Imported conversations the user has not opened are skipped; a
        // file that planted many gives up after a bounded read.
        const BATCH: u32 = 20;
        const BATCHES: usize = 10;
        let mut cursor = None;
        for _ in 0..BATCHES {
            let rows = {
                let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                s[0].index(schema::BY_SITE_RECENT.name)
                    .map_err(storage_error)?
                    .get_all(Some(prefix_range(site, cursor.as_ref())?), Some(BATCH))
                    .await
                    .map_err(storage_error)?
            };
            let exhausted = (rows.len() as u32) < BATCH;
            for value in rows {
                let head = match records::decode_head(&value) {
                    Ok(h) => h,
                    Err(_) => return self.decode_or_quarantine(Some(value)).await,
                };
                if !head.imported() {
                    return self.decode_or_quarantine(Some(value)).await;
                }
                cursor = Some(Cursor::after(&head.summary()));
            }
            if exhausted {
                break;
            }
        }
        Ok(None)
    }

    /// Reads, changes and writes in one transaction: two tabs changing one
    /// conversation lose nothing.
    pub(super) async fn modify_conversation(
        &self,
        id: &str,
        change: Change<'_>,
    ) -> Result<Conversation, ProtocolError> {
        let (t, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        let existing = s[0].get(id.into()).await.map_err(storage_error)?;
        let existing = existing.and_then(|v| records::decode_conversation(&v).ok());
        let c = match change(existing) {
            Ok(c) => c,
            Err(e) => {
                let _ = t.abort().await;
                return Err(e);
            }
        };
        let record = records::encode_conversation(&c);
        write_and_commit(t, async {
            s[0].put(&record, None).await.map_err(storage_error)
        })
        .await?;
        Ok(c)
    }

    pub(super) async fn save_conversation(&self, c: &Conversation) -> Result<(), ProtocolError> {
        let record = records::encode_conversation(c);
        let (t, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        write_and_commit(t, async {
            s[0].put(&record, None).await.map_err(storage_error)
        })
        .await
    }

    pub(super) async fn delete_conversation(&self, id: &str) -> Result<bool, ProtocolError> {
        let (t, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        let existed = s[0].key_exists(id.into()).await.map_err(storage_error)?;
        s[0].delete(id.into()).await.map_err(storage_error)?;
        done(t).await?;
        Ok(existed)
    }

    /// The keys of the `(rank, id)` index: newest first, no record read.
    pub(super) async fn ids_newest_first(&self) -> Result<Vec<String>, ProtocolError> {
        let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
        let keys = s[0]
            .index(schema::BY_RECENT.name)
            .map_err(storage_error)?
            .get_all_keys(None, None)
            .await
            .map_err(storage_error)?;
        Ok(keys.iter().filter_map(JsValue::as_string).collect())
    }

    /// One `get` after another in one transaction, so that only the
    /// record being read is held; unreadable records are quarantined
    /// afterwards.
    pub(super) async fn read_in_order(
        &self,
        ids: &[String],
        visit: &mut dyn FnMut(Conversation) -> bool,
    ) -> Result<usize, ProtocolError> {
        let mut unreadable = Vec::new();
        let mut read = 0;
        {
            let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
            for id in ids {
                read += 1;
                let Some(value) = s[0].get(id.as_str().into()).await.map_err(storage_error)? else {
                    continue;
                };
                match records::decode_conversation(&value) {
                    Ok(c) => {
                        if !visit(c) {
                            break;
                        }
                    }
                    Err(e) => unreadable.push((value, e)),
                }
            }
        }
        for (value, e) in unreadable {
            self.quarantine(store::CONVERSATIONS, &value, &e).await;
        }
        Ok(read)
    }

    /// Hands `visit` the size of every record, from its listed fields (no
    /// conversation is decoded), reading [`SIZE_BATCH`] records at a time
    /// in key order: neither the worker's JS heap nor its wasm memory
    /// holds the store (a `getAll` of it did, for every storage status —
    /// the devtools panel asks for one after each import part). Records
    /// whose fields cannot be read are skipped.
    pub(super) async fn visit_conversation_sizes(
        &self,
        visit: &mut dyn FnMut(StoredSize),
    ) -> Result<(), ProtocolError> {
        let mut after: Option<JsValue> = None;
        loop {
            let rows = {
                let (_tx, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadOnly)?;
                let range = after
                    .as_ref()
                    .map(|key| KeyRange::lower_bound(key, Some(true)))
                    .transpose()
                    .map_err(storage_error)?;
                s[0].get_all(range, Some(SIZE_BATCH))
                    .await
                    .map_err(storage_error)?
            };
            let full = rows.len() >= SIZE_BATCH as usize;
            for v in rows.iter() {
                after = Reflect::get(v, &"id".into()).ok();
                let Ok(head) = records::decode_head(v) else {
                    continue;
                };
                let stored = records::data_of(v).map_or(0, |d| u64::from(d.length()));
                let (_, saved) = head.sizes(stored);
                let s = head.summary();
                visit(StoredSize {
                    id: s.id,
                    updated_ms: s.updated_ms,
                    bytes: stored + 128,
                    saved,
                });
            }
            if !full || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Existing ids are read and the plan (and `preferences`) written in one
    /// transaction, so the import is all or nothing and races with no other
    /// write.
    pub(super) async fn import_file(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        let (t, s) = self.tx(&[store::CONVERSATIONS], TransactionMode::ReadWrite)?;
        let keys: HashSet<String> = s[0]
            .get_all_keys(None, None)
            .await
            .map_err(storage_error)?
            .iter()
            .filter_map(JsValue::as_string)
            .collect();
        // Only the records the file also holds are read, one at a time
        // (reading every record to learn a few update times held the
        // whole store in the worker's heap, for every part).
        let mut existing: HashMap<String, f64> = HashMap::new();
        for c in file.conversations.iter().filter(|c| keys.contains(&c.id)) {
            let record = s[0]
                .get(c.id.as_str().into())
                .await
                .map_err(storage_error)?;
            let updated = record
                .and_then(|v| Reflect::get(&v, &"updated".into()).ok())
                .and_then(|v| v.as_f64());
            if let Some(updated) = updated {
                existing.insert(c.id.clone(), updated);
            }
        }
        let plan = plan_import(file, &existing, policy);
        let writes = plan
            .write
            .iter()
            .map(|c| (records::encode_conversation(c), None));
        let puts = async { s[0].put_all(writes).await.map_err(storage_error) };
        write_and_commit(t, puts)
            .await
            .map_err(|e| storage_error(format!("import rolled back: {}", e.message)))?;
        Ok(plan)
    }
}
