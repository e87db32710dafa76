//! Private windows: their agents keep conversations, page contexts, cached
//! answers, the agent's place and hint state in a store in the worker's
//! memory ([`Store::in_memory`]), never in the profile's database. It is
//! made when the first private agent connects and dropped when the last
//! private window's tabs are gone (or when the user deletes all data), so
//! it lives no longer than the private session, and at most as long as the
//! worker. Settings and provider keys still come from the main store: the
//! user chose them, and a private agent only reads them.

use std::cell::RefCell;
use std::rc::Rc;

use paperclip_core::protocol::ProtocolError;

use crate::store::Store;

thread_local! {
    static PRIVATE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

/// Where an agent keeps its conversation data: the private memory store in
/// a private window, else the main store.
pub(super) fn keep(private: bool) -> Result<Rc<Store>, ProtocolError> {
    if !private {
        return crate::store();
    }
    Ok(PRIVATE.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| {
                Rc::new(Store::in_memory(Some(
                    paperclip_core::activation::PRIVATE_WINDOW.to_string(),
                )))
            })
            .clone()
    }))
}

/// The private store, if one is open.
fn open() -> Option<Rc<Store>> {
    PRIVATE.with(|p| p.borrow().clone())
}

/// Forgets everything private agents kept (the user deleted all data).
pub(crate) fn forget() {
    PRIVATE.with(|p| p.borrow_mut().take());
}

/// Deletes `site`'s data from the private store too.
pub(crate) async fn delete_site(site: &str) {
    if let Some(store) = open() {
        let _ = store.delete_site(site).await;
    }
}

/// A private agent closed: when no private agent is open and no private
/// tab is left, the private session is over and its store goes. (Asked a
/// moment later: a closing window's tabs are still listed while its ports
/// disconnect.)
pub(super) async fn release_if_unused() {
    paperclip_platform::timer::TimeoutFuture::new(1_000).await;
    if super::sessions().iter().any(|s| s.private) {
        return;
    }
    let tabs = paperclip_platform::tabs::query(&[]).await;
    if tabs.is_ok_and(|tabs| tabs.iter().all(|t| !t.incognito)) {
        forget();
    }
}
