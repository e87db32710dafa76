//! Conversations: listing (validated filters and cursors, pages newest
//! first), reading, changes as one read-modify-write, and import.

use paperclip_core::conversation::{Conversation, ConversationSummary, Message, Usage};
use paperclip_core::export::{ExportFile, ImportPlan, MergePolicy};
use paperclip_core::protocol::{ListConversations, ProtocolError, Topic};
use paperclip_core::query::{self, Cursor};

use super::{report, Observation, Store};

impl Store {
    /// A page of conversations matching `q`, newest first, and the cursor of
    /// the next page.
    pub async fn list(
        &self,
        q: &ListConversations,
    ) -> Result<(Vec<ConversationSummary>, Option<String>), ProtocolError> {
        q.filter.validate().map_err(ProtocolError::failed)?;
        let cursor = q
            .cursor
            .as_deref()
            .map(Cursor::parse)
            .transpose()
            .map_err(ProtocolError::failed)?;
        let limit = q.limit.clamp(1, query::MAX_PAGE) as usize;
        let (items, next) = self.backend.list(&q.filter, cursor, limit).await?;
        Ok((items, next.map(|c| c.to_token())))
    }

    /// Up to `limit` conversations, most recently updated first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ConversationSummary>, ProtocolError> {
        let q = ListConversations {
            limit,
            ..Default::default()
        };
        Ok(self.list(&q).await?.0)
    }

    /// The conversation `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        self.backend.get(id).await
    }

    /// The most recently updated conversation of `site`.
    pub async fn latest_for_site(&self, site: &str) -> Result<Option<Conversation>, ProtocolError> {
        self.backend.latest_for_site(site).await
    }

    /// Reads conversation `id`, applies `change` and writes the result, in
    /// one step: two tabs changing one conversation lose nothing.
    pub async fn modify(
        &self,
        id: &str,
        change: impl FnOnce(Option<Conversation>) -> Result<Conversation, ProtocolError>,
    ) -> Result<Conversation, ProtocolError> {
        let result = self.backend.modify(id, Box::new(change)).await;
        changed(&result);
        result
    }

    /// Adds or replaces `message` in conversation `id` (created for `site`
    /// at `now_ms` when missing).
    pub async fn upsert_message(
        &self,
        id: &str,
        site: &str,
        message: Message,
        now_ms: f64,
    ) -> Result<Conversation, ProtocolError> {
        let started = paperclip_platform::clock::now_ms();
        let result = self
            .modify(id, |existing| {
                let mut c = existing
                    .unwrap_or_else(|| Conversation::new(id.to_string(), site.to_string(), now_ms));
                c.upsert(message);
                Ok(c)
            })
            .await;
        report(Observation::Operation {
            op: "upsert_message",
            ok: result.is_ok(),
            ms: paperclip_platform::clock::now_ms() - started,
        });
        result
    }

    /// Replaces the tags of conversation `id`; returns them normalised.
    pub async fn set_tags(&self, id: &str, tags: &[String]) -> Result<Vec<String>, ProtocolError> {
        let tags =
            paperclip_core::conversation::normalize_tags(tags).map_err(ProtocolError::failed)?;
        let c = self
            .modify(id, |existing| {
                let mut c = existing
                    .ok_or_else(|| ProtocolError::failed(format!("no conversation {id:?}")))?;
                c.tags = tags;
                Ok(c)
            })
            .await?;
        Ok(c.tags)
    }

    /// Adds one request's tokens and cost to conversation `id`.
    pub async fn record_usage(&self, id: &str, usage: Usage) -> Result<Usage, ProtocolError> {
        let c = self
            .modify(id, |existing| {
                let mut c = existing
                    .ok_or_else(|| ProtocolError::failed(format!("no conversation {id:?}")))?;
                c.record_usage(usage);
                Ok(c)
            })
            .await?;
        Ok(c.usage)
    }

    /// Saves `c` whole (replacing any conversation with its id).
    pub async fn save(&self, c: &Conversation) -> Result<(), ProtocolError> {
        let result = self.backend.save(c).await;
        changed(&result);
        result
    }

    /// Every conversation's id, newest first ("Export all" asks for them
    /// in parts).
    pub async fn conversation_ids(&self) -> Result<Vec<String>, ProtocolError> {
        self.backend.conversation_ids().await
    }

    /// Reads the conversations `ids` in order, handing each to `visit`
    /// until it returns false (missing ones are skipped): how many of
    /// `ids` were read.
    pub async fn read_conversations(
        &self,
        ids: &[String],
        visit: &mut dyn FnMut(Conversation) -> bool,
    ) -> Result<usize, ProtocolError> {
        self.backend.read_conversations(ids, visit).await
    }

    /// Writes a validated import file under `policy`, all or nothing. Its
    /// preferences are not applied: the user is asked first.
    pub async fn import(
        &self,
        file: ExportFile,
        policy: MergePolicy,
    ) -> Result<ImportPlan, ProtocolError> {
        let plan = self.backend.import(file, policy).await?;
        report(Observation::Changed(Topic::Conversations));
        Ok(plan)
    }

    /// Conversation `id`, opened by the user: an imported one loses its
    /// mark (from now on it is theirs, history included).
    pub async fn open_conversation(&self, id: &str) -> Result<Option<Conversation>, ProtocolError> {
        let Some(c) = self.backend.get(id).await? else {
            return Ok(None);
        };
        if !c.imported {
            return Ok(Some(c));
        }
        let opened = self
            .backend
            .modify(
                id,
                Box::new(|c| {
                    let mut c = c.ok_or_else(|| ProtocolError::failed("conversation deleted"))?;
                    c.imported = false;
                    Ok(c)
                }),
            )
            .await;
        changed(&opened);
        opened.map(Some)
    }

    /// Deletes conversation `id`; false when it did not exist.
    pub async fn delete(&self, id: &str) -> Result<bool, ProtocolError> {
        let result = self.backend.delete(id).await;
        changed(&result);
        result
    }
}

/// Tells the observer that conversations changed, after a write that
/// succeeded.
fn changed<T>(result: &Result<T, ProtocolError>) {
    if result.is_ok() {
        report(Observation::Changed(Topic::Conversations));
    }
}
