//! Reading a tab's page: the content script's [`PageRead`], the core's
//! [`extract`](paperclip_core::extract::extract), and the context cache.
//!
//! The content script sends the serialised DOM only when the page changed
//! since its last read (a MutationObserver marks it dirty). The extraction
//! is cached in the storage engine under `ctx:<url>#<content hash>` with
//! the `performance.context_cache_ttl_minutes` lifetime, so an unchanged
//! page — in this tab, after a reload, or after the worker restarted — is
//! never extracted twice.

use std::cell::RefCell;
use std::num::NonZeroUsize;

use lru::LruCache;

use paperclip_core::extract::{extract, Extracted};
use paperclip_core::page::{context_key as cache_key, PageRead, PageSnapshot};
use paperclip_core::protocol::{self, ProtocolError, ToContent};

use crate::context_cache::{cached, keep};
use crate::store::Store;
use crate::to_content;

/// How much a page context is worth keeping, against other cache entries.
const RELEVANCE: f32 = 0.5;

/// Most tabs whose last page context [`LAST`] remembers (the least
/// recently read is forgotten first: a hint only, a miss reads the page
/// again).
const MAX_TABS_REMEMBERED: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");
/// Most PDF agent tabs [`DOCUMENTS`] knows (the least recently used is
/// forgotten first; its agent then reads its page as a web page's).
const MAX_DOCUMENTS: NonZeroUsize = NonZeroUsize::new(64).expect("not zero");

thread_local! {
    /// Per tab, the cache key of the page context it last sent.
    static LAST: RefCell<LruCache<i32, String>> = RefCell::new(LruCache::new(MAX_TABS_REMEMBERED));
    /// The tabs that show a PDF's agent page (`pdf.html`), with the
    /// document's address: their "page" is that document.
    static DOCUMENTS: RefCell<LruCache<i32, String>> = RefCell::new(LruCache::new(MAX_DOCUMENTS));
}

/// The PDF tab `tab_id`'s agent page is about, if it is one.
pub fn document(tab_id: i32) -> Option<String> {
    DOCUMENTS.with(|d| d.borrow_mut().get(&tab_id).cloned())
}

/// Tab `tab_id`'s agent is about PDF `url` (its page is `pdf.html`):
/// reading its page reads that document; `None`: an agent on a web page
/// (the tab left the PDF page).
pub fn set_document(tab_id: i32, url: Option<String>) {
    DOCUMENTS.with(|d| match url {
        Some(url) => d.borrow_mut().put(tab_id, url),
        None => d.borrow_mut().pop(&tab_id),
    });
}

/// Forgets which page context each tab sent last (their cache entries
/// were deleted), so the next read serialises the page again.
pub fn forget() {
    LAST.with(|l| l.borrow_mut().clear());
}

/// Where a page context came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The DOM was serialised and extracted.
    Extracted,
    /// The DOM was serialised, and the same content was in the cache.
    Cached,
    /// The page had not changed: nothing was serialised.
    Unchanged,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Extracted => "extracted",
            Source::Cached => "cached",
            Source::Unchanged => "unchanged",
        }
    }
}

async fn request(tab_id: i32, fresh: bool) -> Result<PageRead, ProtocolError> {
    let reply = to_content(tab_id, &ToContent::GetPageContext { fresh }).await?;
    protocol::decode_reply::<PageRead>(&reply)
}

/// The extraction of `dom` read at `url`: from the cache, or made now.
async fn extraction(store: &Store, url: &str, dom: &str) -> (String, Extracted, Source) {
    let key = cache_key(url, dom);
    if let Some(page) = cached(store, &key).await {
        return (key, page, Source::Cached);
    }
    let page = extract(dom);
    keep(store, &key, &page, RELEVANCE).await;
    (key, page, Source::Extracted)
}

/// Reads the page of tab `tab_id`, its context cached in `store` (the
/// main store, or a private window's memory).
pub async fn read(tab_id: i32, store: &Store) -> Result<(PageSnapshot, Source), ProtocolError> {
    if let Some(url) = document(tab_id) {
        return Ok((crate::pdf::read(&url, store).await?, Source::Extracted));
    }
    let started = paperclip_platform::clock::now_ms();
    let known = LAST.with(|l| l.borrow_mut().get(&tab_id).cloned());
    let mut read = request(tab_id, known.is_none()).await?;
    let unchanged = match (read.dom.take(), known) {
        (None, Some(key)) => cached(store, &key)
            .await
            .map(|page| (key, page, Source::Unchanged)),
        (dom, _) => match dom {
            Some(dom) => Some(extraction(store, &read.url, &dom).await),
            None => None,
        },
    };
    let (key, page, source) = match unchanged {
        Some(found) => found,
        // The cached context is gone (expired, evicted, cleared): read it all again.
        None => {
            read = request(tab_id, true).await?;
            let dom = read.dom.take().unwrap_or_default();
            extraction(store, &read.url, &dom).await
        }
    };
    LAST.with(|l| l.borrow_mut().put(tab_id, key));
    let ms = paperclip_platform::clock::now_ms() - started;
    crate::telemetry::timing("context.read", &[("source", source.name())], ms);
    crate::telemetry::event("context.read", &[("source", source.name())]);
    Ok((PageSnapshot::new(read, page).clamp(), source))
}
