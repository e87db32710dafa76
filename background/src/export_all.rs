//! "Export all" in parts (`ExportBegin`, then `ExportPart` until every id
//! is read; see `paperclip_core::export::frame`): the options page puts
//! the file together, so the worker holds about a part of it at a time.
//! Nothing is kept here between the messages.

use paperclip_core::export;
use paperclip_core::import::MAX_PART_BYTES;
use paperclip_core::protocol::{ExportBegun, ExportPart, ExportedPart, ProtocolError};

use crate::store::Store;

/// The file's frame (with the preferences) and every conversation's id.
pub async fn begin(store: &Store) -> Result<ExportBegun, ProtocolError> {
    let ids = store.conversation_ids().await?;
    let (head, tail) = export::frame(
        Some(&store.preferences()),
        paperclip_platform::clock::now_ms(),
    );
    Ok(ExportBegun { head, tail, ids })
}

/// The conversations asked for, as they stand in the file, until about
/// [`MAX_PART_BYTES`] of text (always at least one).
pub async fn part(store: &Store, r: ExportPart) -> Result<ExportedPart, ProtocolError> {
    r.validate()?;
    let mut conversations = Vec::new();
    let mut bytes = 0;
    let read = store
        .read_conversations(&r.ids, &mut |c| {
            let piece = export::piece(&c);
            bytes += piece.len();
            conversations.push(piece);
            bytes < MAX_PART_BYTES
        })
        .await?;
    Ok(ExportedPart {
        conversations,
        read: read as u32,
    })
}
