//! Questions that wait for the network (`core::queued`): kept in `meta`
//! (one record, mirrored here), asked again when the browser comes back
//! online, when the worker starts, every minute by an alarm while any
//! wait, after any provider answered, and when the user presses
//! "Try now". Each answer is stored once (its id comes from the
//! question's) in the question's conversation and shown to every agent
//! showing it.

use paperclip_core::queued::{self, NotQueued, Queue, Queued};
use paperclip_core::resilience::FailureKind;

use super::*;

/// The `meta` record holding the queue.
const META_QUEUED: &str = "queued_questions";
/// The alarm that asks again while questions wait (it wakes a stopped
/// worker).
pub const ALARM: &str = "paperclip-queued";

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::default();
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

/// Reads the stored queue (at start), listens for the network coming back
/// and asks again.
pub async fn start(store: &Store) {
    let stored = store
        .meta_json::<Queue>(META_QUEUED)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
        .restore(now_ms() as u64);
    QUEUE.with(|q| *q.borrow_mut() = stored);
    listen_online();
    soon();
}

/// Whether the browser believes it is online.
fn online() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"onLine".into()))
        .map(|v| v.as_bool() != Some(false))
        .unwrap_or(true)
}

/// Whether the question of a job whose providers failed with `failures`
/// waits (see `queued::should_queue`).
pub(super) fn should_wait(failures: &[FailureKind], private: bool) -> bool {
    queued::should_queue(failures, online(), private)
}

/// Keeps `queued`; the sentence the offline answer carries about it, or
/// why it could not wait.
pub(super) async fn keep(queued: Queued) -> String {
    let provider = queued.provider.clone();
    let conversation_id = queued.conversation_id.clone();
    let pushed = QUEUE.with(|q| q.borrow_mut().push(queued, now_ms() as u64));
    match pushed {
        Ok(()) => {
            telemetry::count("queued.kept", &[], 1);
            save().await;
            notify(&conversation_id);
            queued::notice(&provider)
        }
        Err(NotQueued::Full) => queued::full_notice(),
        Err(NotQueued::Invalid(why)) => format!("Your question cannot wait for {provider}: {why}."),
    }
}

async fn save() {
    let (queue, waiting) = QUEUE.with(|q| {
        let q = q.borrow();
        (q.clone(), !q.items.is_empty())
    });
    if let Ok(store) = store() {
        if let Err(e) = store.set_meta_json(META_QUEUED, &queue).await {
            web_sys::console::warn_1(&format!("paperclip: queue not saved: {}", e.message).into());
        }
    }
    if waiting {
        paperclip_platform::alarms::create(ALARM, None, 1.0);
    } else {
        paperclip_platform::alarms::clear(ALARM);
    }
}

/// Tells every agent showing conversation `id` what of it waits.
fn notify(conversation_id: &str) {
    let questions = QUEUE.with(|q| q.borrow().views(Some(conversation_id)));
    running::deliver(conversation_id, &BgToAgent::Queued { questions });
}

/// Tells `session` what of the conversation it shows waits.
pub(super) fn send_views(session: &Session) {
    let open = session.conversation_id.borrow().clone();
    let questions = QUEUE.with(|q| q.borrow().views(open.as_deref()));
    if !questions.is_empty() {
        session.send(&BgToAgent::Queued { questions });
    }
}

/// The user cancelled question `question_id` in the conversation
/// `session` shows.
pub(super) async fn cancel(session: &Session, question_id: &str) -> Result<(), ProtocolError> {
    let open = session.conversation_id.borrow().clone();
    let removed = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        let mine = q.items.iter().any(|x| {
            x.question_id == question_id
                && Some(x.conversation_id.as_str()) == open.as_deref()
                && x.site == session.site
        });
        if mine {
            q.remove(question_id)
        } else {
            None
        }
    });
    let Some(removed) = removed else {
        return Err(ProtocolError::failed("that question no longer waits"));
    };
    telemetry::count("queued.cancelled", &[], 1);
    save().await;
    notify(&removed.conversation_id);
    Ok(())
}

/// Forgets the waiting questions of deleted data: `site`'s (or all).
pub fn forget_site(site: Option<&str>) {
    let dropped = QUEUE.with(|q| q.borrow_mut().forget_site(site));
    if dropped > 0 {
        wasm_bindgen_futures::spawn_local(save());
    }
}

/// Forgets the waiting questions of deleted conversation `id`.
pub(super) fn forget_conversation(id: &str) {
    let dropped = QUEUE.with(|q| q.borrow_mut().forget_conversation(id));
    if dropped > 0 {
        wasm_bindgen_futures::spawn_local(save());
    }
}

/// Asks again soon (without waiting for it).
pub fn soon() {
    if QUEUE.with(|q| q.borrow().items.is_empty()) {
        return;
    }
    wasm_bindgen_futures::spawn_local(drain());
}

/// The user pressed "Try now" in `session`: one round now, and if the
/// questions it shows still wait, it is told so.
pub(super) async fn retry(session: &Session) {
    if DRAINING.with(Cell::get) {
        return;
    }
    drain().await;
    let open = session.conversation_id.borrow().clone();
    let still = QUEUE.with(|q| q.borrow().views(open.as_deref()));
    if let Some(first) = still.first() {
        session.fail(ProtocolError::failed(format!(
            "{} still cannot be reached: the question keeps waiting and is tried again every minute.",
            first.provider
        )));
    }
}

fn listen_online() {
    let online = Closure::<dyn Fn()>::new(soon);
    if let Ok(add) = js_sys::Reflect::get(&js_sys::global(), &"addEventListener".into()) {
        if let Some(add) = add.dyn_ref::<js_sys::Function>() {
            let _ = add.call2(&js_sys::global(), &"online".into(), online.as_ref());
        }
    }
    online.forget();
}

/// What asking one waiting question again came to.
enum Again {
    Answered,
    /// Still no network: the rest need not be tried now.
    Unreachable,
    /// A provider answered with an error: the question stops waiting.
    Refused(String),
    /// Its conversation is busy, or no provider is set up any more.
    Later,
}

/// Asks the waiting questions again, oldest first, until one finds the
/// network still down.
pub async fn drain() {
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    let now = now_ms() as u64;
    if QUEUE.with(|q| q.borrow_mut().expire(now)) > 0 {
        save().await;
    }
    let waiting = QUEUE.with(|q| q.borrow().items.clone());
    for queued in waiting {
        // Cancelled (or deleted) meanwhile.
        if QUEUE.with(|q| {
            !q.borrow()
                .items
                .iter()
                .any(|x| x.question_id == queued.question_id)
        }) {
            continue;
        }
        match again(&queued).await {
            Again::Answered => {
                QUEUE.with(|q| q.borrow_mut().remove(&queued.question_id));
                telemetry::count("queued.answered", &[], 1);
                save().await;
                notify(&queued.conversation_id);
            }
            Again::Refused(error) => {
                QUEUE.with(|q| q.borrow_mut().remove(&queued.question_id));
                save().await;
                notify(&queued.conversation_id);
                running::deliver(
                    &queued.conversation_id,
                    &BgToAgent::Failed {
                        error: ProtocolError::failed(format!(
                            "The question that waited for {} could not be answered: {error}",
                            queued.provider
                        )),
                    },
                );
            }
            Again::Unreachable => break,
            Again::Later => {}
        }
    }
    DRAINING.with(|d| d.set(false));
}

/// Asks `queued` of the providers set up now (primary, then fallback);
/// stores the answer in its conversation.
async fn again(queued: &Queued) -> Again {
    let Ok(store) = store() else {
        return Again::Later;
    };
    let Ok(chain) = crate::providers::chain(&store).await else {
        return Again::Later;
    };
    if chain.is_empty() {
        return Again::Later;
    }
    let Some(claim) = Running::claim(&queued.conversation_id, &queued.site) else {
        return Again::Later;
    };
    let request = queued.request();
    let mut failures = Vec::new();
    let mut last_error = String::new();
    for (index, config) in chain.iter().enumerate() {
        let mut text = String::new();
        let mut kept = 0;
        let mut on_text = |piece: &str| {
            let (piece, full) = answer::within_limit(kept, piece);
            kept += piece.chars().count();
            text.push_str(piece);
            if full {
                text.push_str(answer::CUT_NOTICE);
            }
            !full
        };
        let result =
            crate::resilient::stream(&store, config, &request, &claim.cancel, &mut on_text).await;
        match result {
            Err(f) if !f.streamed || text.is_empty() => {
                let id = &config.settings().id;
                crate::errors::provider_failed(id, &queued.question_id, f.kind, &f.error);
                failures.push(f.cause());
                last_error = f.error;
            }
            // An answer (whole, cut at the limit, or broken off after
            // some text: kept as it is, marked interrupted).
            result => {
                let level = if index == 0 {
                    Degradation::Normal
                } else {
                    Degradation::Fallback
                };
                let status = if result.is_ok() {
                    MessageStatus::Complete
                } else {
                    MessageStatus::Interrupted
                };
                let mut reply = Message {
                    status,
                    ..Message::complete(
                        queued.answer_id(),
                        Role::Assistant,
                        format!("{}{text}", queued.answer_heading()),
                        now_ms(),
                    )
                };
                reply.set_source(AnswerSource::new(config.settings().label.clone(), level));
                if claim.discarded() {
                    return Again::Answered;
                }
                let stored = store
                    .upsert_message(
                        &queued.conversation_id,
                        &queued.site,
                        reply.clone(),
                        now_ms(),
                    )
                    .await;
                return match stored {
                    Ok(_) => {
                        claim.send(&BgToAgent::Stored { message: reply });
                        Again::Answered
                    }
                    Err(_) => Again::Later,
                };
            }
        }
    }
    if queued::should_queue(&failures, online(), false) {
        Again::Unreachable
    } else {
        Again::Refused(last_error)
    }
}
