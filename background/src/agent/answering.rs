//! Answering: a question or a Continue becomes a `Job`, the answer chain
//! that `core::answer::Plan` decides is performed (providers, the cached
//! answer, the offline answer), streamed to every agent showing the
//! conversation (`Running`) and stored with its source.

use super::*;
use paperclip_core::prefs::Preferences;
use paperclip_core::provider::ChatRequest;

/// Reads tab `tab_id`'s page, its context cached where a `private`
/// window's agent keeps its data (or the main store).
pub(super) async fn read_page(tab_id: i32, private: bool) -> Result<PageSnapshot, ProtocolError> {
    let read = crate::page::read(tab_id, &*private::keep(private)?).await;
    match read {
        Ok((page, _)) => {
            crate::errors::page_read();
            Ok(page)
        }
        Err(e) => {
            crate::errors::page_unread(&e);
            Err(e)
        }
    }
}

/// The question of the user's quick action `name`: its prompt filled
/// from what of the page their privacy settings share.
async fn custom_question(session: &Session, name: &str) -> Result<String, ProtocolError> {
    let preferences = store()?.preferences();
    let action = paperclip_core::quick::find(&preferences.quick_actions, name)
        .cloned()
        .ok_or_else(|| ProtocolError::failed("that quick action no longer exists"))?;
    let wants_selection = action.needs_selection || action.uses("selection");
    if wants_selection && !preferences.context.selection {
        return Err(ProtocolError::failed(format!(
            "“{}” uses the selected text, which your privacy settings do not share (options, Privacy).",
            action.name
        )));
    }
    let page = read_page(session.tab_id, session.private)
        .await?
        .shared(&preferences.context);
    if action.needs_selection && page.selection.trim().is_empty() {
        return Err(ProtocolError::failed(format!(
            "Select some text on the page first, then choose “{}”.",
            action.name
        )));
    }
    Ok(action.expand(&paperclip_core::quick::Fill {
        selection: page.selection,
        page: page.blocks.join("\n\n"),
        title: page.title,
        url: page.url,
    }))
}

fn busy() -> ProtocolError {
    ProtocolError::failed("an answer is still streaming; stop it or wait")
}

pub(super) async fn ask(
    session: Rc<Session>,
    id: Option<String>,
    text: String,
    action: Option<QuickAction>,
    context: Option<String>,
    custom: Option<String>,
) {
    let is_custom = custom.is_some();
    let text = match custom {
        Some(name) => match custom_question(&session, &name).await {
            Ok(question) => question,
            Err(error) => return session.fail(error),
        },
        None => text,
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return session.fail(ProtocolError::new(
            protocol::ErrorKind::Malformed,
            "the question is empty",
        ));
    }
    // Within the budgets (memory, questions at once, questions a minute),
    // counted as running until the answer ends.
    let _admitted = match crate::budget::admit() {
        Ok(admitted) => admitted,
        Err(error) => return session.fail(error),
    };
    let id = id
        .filter(|id| protocol::valid_message_id(id))
        .unwrap_or_else(new_id);
    // The conversation shown, or a new one.
    let (conversation_id, new) = {
        let mut open = session.conversation_id.borrow_mut();
        match &*open {
            Some(id) => (id.clone(), false),
            None => (open.insert(new_id()).clone(), true),
        }
    };
    let Some(claim) = Running::claim(&conversation_id, &session.site) else {
        return session.fail(busy());
    };
    let question = Message::complete(id, Role::User, text, now_ms());
    let asked = Asked {
        action,
        custom: is_custom,
        context,
    };
    if let Err(error) = answer(&session, &claim, new, question, asked).await {
        claim.fail(error);
    }
}

pub(super) async fn continue_answer(session: Rc<Session>, message_id: String) {
    let Some(conversation_id) = session.conversation_id.borrow().clone() else {
        return session.fail(ProtocolError::failed("there is no answer to continue"));
    };
    let Some(claim) = Running::claim(&conversation_id, &session.site) else {
        return session.fail(busy());
    };
    if let Err(error) = continuation(&session, &claim, message_id).await {
        claim.fail(error);
    }
}

/// One answer to produce: a new one, or the continuation of an interrupted
/// one (`partial`).
pub(super) struct Job {
    conversation_id: String,
    site: String,
    /// Where the conversation, the usage and cached answers are kept
    /// (memory only in a private window).
    keep: Rc<crate::store::Store>,
    message_id: String,
    question: String,
    action: Option<QuickAction>,
    /// Complete messages before the question.
    history: Vec<Message>,
    page: PageSnapshot,
    /// The interrupted answer's text, when continuing it.
    partial: Option<String>,
    /// The page context the user reviewed in the preview, sent verbatim.
    context: Option<String>,
    /// The question's message (`None` when continuing an answer): with
    /// it, a question no provider could be reached for waits for the
    /// network (`queued`).
    question_id: Option<String>,
    /// Asked in a private window (nothing of it may be written).
    private: bool,
    /// The agent that asked: on-device tasks go to it.
    asker: Option<std::rc::Weak<Session>>,
}

impl Job {
    /// What a provider is asked for this job: only the page context the
    /// user shares (`preferences`).
    fn request(&self, preferences: &Preferences) -> ChatRequest {
        let page = self.page.shared(&preferences.context);
        answer::request(&answer::Ask {
            system: preferences.personality.system_prompt(),
            page: &page,
            history: &self.history,
            question: &self.question,
            partial: self.partial.as_deref(),
            context: self.context.as_deref(),
        })
    }
}

/// Complete messages of conversation `id` before message `before` (all of
/// them when it is not there).
pub(super) async fn history_before(store: &Store, id: Option<&str>, before: &str) -> Vec<Message> {
    let Some(id) = id else {
        return Vec::new();
    };
    store
        .get(id)
        .await
        .ok()
        .flatten()
        .map(|c| c.messages)
        .unwrap_or_default()
        .into_iter()
        .take_while(|m| m.id != before)
        .collect()
}

/// Tells the agent what asking `text` would send, and to whom.
pub(super) async fn preview(session: &Session, text: &str) -> Result<(), ProtocolError> {
    let store = store()?;
    let page = read_page(session.tab_id, session.private).await?;
    let conversation_id = session.conversation_id.borrow().clone();
    let history = history_before(&*session.keep()?, conversation_id.as_deref(), "").await;
    let preferences = store.preferences();
    let context = prompt::context_for(
        preferences.personality.system_prompt(),
        &page.shared(&preferences.context),
        &history,
        text,
        prompt::DEFAULT_BUDGET_CHARS,
    );
    let destination = crate::providers::chain(&store)
        .await?
        .first()
        .map(|c| c.settings().label.clone());
    session.send(&BgToAgent::Preview {
        destination,
        context,
    });
    Ok(())
}

/// Answers `question` in the claimed conversation (`new`: started by this
/// question).
/// How a question was asked.
pub(super) struct Asked {
    /// A quick action's button.
    pub action: Option<QuickAction>,
    /// One of the user's own actions.
    pub custom: bool,
    /// The page context the user reviewed in the preview.
    pub context: Option<String>,
}

pub(super) async fn answer(
    session: &Session,
    running: &Running,
    new: bool,
    question: Message,
    asked: Asked,
) -> Result<(), ProtocolError> {
    let Asked {
        action,
        custom,
        context,
    } = asked;
    let store = store()?;
    let keep = session.keep()?;
    let conversation_id = running.conversation_id.clone();
    // The user's message is stored before anything else can fail; a
    // question re-sent after a lost connection (or retried) has the same
    // id, so it is stored once.
    keep.upsert_message(&conversation_id, &session.site, question.clone(), now_ms())
        .await?;
    running.send(&BgToAgent::Stored {
        message: question.clone(),
    });
    if new {
        adopt(session, &conversation_id, &question);
    }
    let history = history_before(&keep, Some(&conversation_id), &question.id).await;
    // The ask is one trace: reading the page, then the chain (each
    // provider attempt is a child span).
    let mut trace = telemetry::root("ask");
    let how = match (custom, action) {
        (true, _) => "custom",
        (false, Some(action)) => action.label(),
        (false, None) => "typed",
    };
    trace.set_attribute("action", how);
    // The panel's request log names the site (its origin), never a private
    // window's.
    if !session.private {
        trace.set_attribute("site", session.site.as_str());
    }
    let gather = telemetry::child(&trace, "context.gather", SpanKind::Internal);
    let page = read_page(session.tab_id, session.private).await;
    telemetry::end(gather, page.as_ref().err().map(|e| e.message.as_str()));
    let job = Job {
        conversation_id,
        site: session.site.clone(),
        keep,
        message_id: new_id(),
        question_id: Some(question.id),
        private: session.private,
        asker: session_handle(session),
        question: question.text,
        action,
        history,
        page: page?,
        partial: None,
        context,
    };
    telemetry::event("ask.started", &[("ask", &job.message_id)]);
    telemetry::set_current(Some(&trace));
    let chain = telemetry::child(&trace, "answer.chain", SpanKind::Internal);
    let result = run_chain(running, &store, &job).await;
    telemetry::set_current(None);
    let failed = result.as_ref().err().map(|e| e.message.clone());
    telemetry::end(chain, failed.as_deref());
    trace.set_attribute("level", degradation().as_str());
    telemetry::end(trace, failed.as_deref());
    telemetry::count("ask.count", &[("level", degradation().as_str())], 1);
    result
}

pub(super) async fn continuation(
    session: &Session,
    running: &Running,
    message_id: String,
) -> Result<(), ProtocolError> {
    let store = store()?;
    let keep = session.keep()?;
    let conversation_id = running.conversation_id.clone();
    let messages = keep
        .get(&conversation_id)
        .await?
        .map(|c| c.messages)
        .unwrap_or_default();
    let found = answer::continuation(&messages, &message_id).map_err(ProtocolError::failed)?;
    let job = Job {
        conversation_id,
        site: session.site.clone(),
        keep,
        message_id,
        question: messages[found.question].text.clone(),
        action: None,
        history: messages[..found.question].to_vec(),
        page: read_page(session.tab_id, session.private).await?,
        partial: Some(messages[found.answer].text.clone()),
        context: None,
        question_id: None,
        private: session.private,
        asker: session_handle(session),
    };
    run_chain(running, &store, &job).await
}

/// Performs the answer chain that `core::answer::Plan` decides: providers
/// in order, then an earlier answer, then the offline answer.
pub(super) async fn run_chain(
    running: &Running,
    store: &Store,
    job: &Job,
) -> Result<(), ProtocolError> {
    let cancel = running.cancel.clone();
    let settings = crate::resilient::settings(store).await;
    let chain = crate::providers::chain(store).await?;
    let names = chain.iter().map(|c| c.settings().label.clone()).collect();
    let cache = answer::cache_allowed(
        settings.answer_cache_ttl_ms,
        job.partial.is_some(),
        job.context.is_some(),
    );
    // "Translate selection" is done on the device where the browser can.
    if job.action == Some(QuickAction::TranslateSelection) && job.partial.is_none() {
        let shared = job.page.shared(&store.preferences().context);
        let task =
            paperclip_core::on_device::Task::translate(&shared.selection, &platform::ui_language());
        // A model still to download is offered only when no provider
        // could translate instead.
        if let Some(text) = on_device_answer(job, &task, "", chain.is_empty()).await {
            return stream_local(running, store, job, &task.source(false), &text).await;
        }
    }
    let mut plan = answer::Plan::new(names, cache);
    // How each provider failed: all unreachable, the question waits.
    let mut failures = Vec::new();
    loop {
        match plan.step() {
            answer::Step::Provider { index, source } => {
                let config = &chain[index];
                match answer_with(running, store, config, &source, job, &cancel, &mut failures)
                    .await
                {
                    Attempt::Answered { .. } => return Ok(()),
                    Attempt::Stopped => plan.stop(),
                    Attempt::Failed(_) if cancel.is_stopped() => plan.stop(),
                    Attempt::Failed(why) => plan.failed(why),
                }
            }
            answer::Step::LookUpCache => {
                let cached = cached_answer(job).await;
                match cached {
                    Some(cached) => {
                        let (source, text) = plan.serve_cached(&cached, now_ms() as u64);
                        return stream_local(running, store, job, &source, &text).await;
                    }
                    None => plan.cache_missed(),
                }
            }
            answer::Step::Offline { source, preamble } => {
                // The offline summary is the device's where it can.
                if job.action == Some(QuickAction::SummarizePage) && job.partial.is_none() {
                    let shared = job.page.shared(&store.preferences().context);
                    let task = paperclip_core::on_device::Task::summarize(
                        &shared.title,
                        &shared.blocks.join("\n\n"),
                    );
                    let before = preamble.clone().unwrap_or_default();
                    if let Some(text) = on_device_answer(job, &task, &before, true).await {
                        let source = task.source(!chain.is_empty());
                        return stream_local(running, store, job, &source, &text).await;
                    }
                }
                let full = offline::in_voice(
                    &offline::answer(&job.question, job.action, &job.page),
                    store.preferences().personality,
                );
                let mut text = format!("{}{full}", preamble.unwrap_or_default());
                if let Some(wait) = wait_for_network(store, &chain, job, &failures).await {
                    text = format!("{text}\n\n{wait}");
                }
                let text = match &job.partial {
                    Some(partial) => offline::continuation(&text, partial).to_string(),
                    None => text,
                };
                return stream_local(running, store, job, &source, &text).await;
            }
            answer::Step::Stopped => {
                running.send(&BgToAgent::Stopped {});
                return Ok(());
            }
        }
    }
}

/// The agent that asked `job` does `task` on the device: the answer's
/// text (after `before`), or `None` (no API there, declined, failed) and
/// the usual answer follows.
async fn on_device_answer(
    job: &Job,
    task: &paperclip_core::on_device::Task,
    before: &str,
    offer_download: bool,
) -> Option<String> {
    if task.is_empty() {
        return None;
    }
    let asker = job.asker.as_ref()?.upgrade()?;
    match super::device::ask(&asker, &job.message_id, task, offer_download).await {
        Ok((text, source_language)) => {
            telemetry::count("on_device.answers", &[], 1);
            Some(format!(
                "{before}{}",
                task.answer(&text, source_language.as_deref())
            ))
        }
        Err(why) => {
            telemetry::event("on_device.skipped", &[("reason", why.as_str())]);
            None
        }
    }
}

/// When no provider of `chain` could be reached for `job`'s question
/// (`failures`), the question waits for the network: the sentence its
/// offline answer ends with.
async fn wait_for_network(
    store: &Store,
    chain: &[ProviderConfig],
    job: &Job,
    failures: &[paperclip_core::resilience::FailureKind],
) -> Option<String> {
    let question_id = job.question_id.as_deref()?;
    let primary = chain.first()?;
    if !queued::should_wait(failures, job.private) {
        return None;
    }
    let request = job.request(&store.preferences());
    let waiting = paperclip_core::queued::Queued::new(
        question_id,
        &job.conversation_id,
        &job.site,
        &job.question,
        &primary.settings().label,
        &request,
        now_ms() as u64,
    );
    Some(queued::keep(waiting).await)
}

/// An earlier answer to the job's question about the same page, if one is
/// cached (a telemetry span and counter either way).
pub(super) async fn cached_answer(job: &Job) -> Option<CachedAnswer> {
    let key = answer_key(&job.question, &job.page);
    let lookup = telemetry::child_of_current("cache.lookup", SpanKind::Internal);
    let cached = job
        .keep
        .cache_get(&key, now_ms() as u64)
        .await
        .ok()
        .flatten()
        .and_then(|e| CachedAnswer::read(&e));
    telemetry::count(
        "answer_cache.lookups",
        &[("hit", if cached.is_some() { "true" } else { "false" })],
        1,
    );
    if let Some(mut lookup) = lookup {
        lookup.set_attribute("hit", cached.is_some());
        telemetry::end(lookup, None);
    }
    cached
}

/// Records where an answer came from (telemetry, and the level the options
/// page and the agent show).
pub(super) fn record_level(level: Degradation) {
    LEVEL.with(|l| l.set(level));
    telemetry::event("answer.level", &[("level", level.as_str())]);
}

/// Streams `text` (made here, not by a provider) in chunks and stores it.
pub(super) async fn stream_local(
    running: &Running,
    store: &Store,
    job: &Job,
    source: &AnswerSource,
    text: &str,
) -> Result<(), ProtocolError> {
    record_level(source.level);
    telemetry::event("answer.started", &[("ask", &job.message_id)]);
    running.send(&BgToAgent::AnswerStart {
        message_id: job.message_id.clone(),
        provider: source.provider.clone(),
        level: source.level,
    });
    let chunk_chars = store.preferences().stream_chunk_chars as usize;
    let mut streamed = String::new();
    for chunk in offline::stream_chunks(text, chunk_chars) {
        if running.cancel.is_stopped() {
            break;
        }
        running.send(&BgToAgent::AnswerChunk {
            message_id: job.message_id.clone(),
            text: chunk.to_string(),
        });
        streamed.push_str(chunk);
        TimeoutFuture::new(CHUNK_PAUSE_MS).await;
    }
    let status = if streamed.len() == text.len() {
        MessageStatus::Complete
    } else {
        MessageStatus::Interrupted
    };
    if !running.discarded() {
        store_answer(job, source, streamed, status, None).await?;
    }
    running.send(&BgToAgent::AnswerDone {
        message_id: job.message_id.clone(),
        status,
        usage: None,
    });
    if status == MessageStatus::Complete {
        telemetry::event("answer.completed", &[("ask", &job.message_id)]);
    }
    Ok(())
}

/// Stores the answer's text (after the partial one it continues).
pub(super) async fn store_answer(
    job: &Job,
    source: &AnswerSource,
    text: String,
    status: MessageStatus,
    usage: Option<paperclip_core::conversation::Usage>,
) -> Result<(), ProtocolError> {
    let text = match &job.partial {
        Some(partial) => format!("{partial}{text}"),
        None => text,
    };
    let mut reply = Message {
        status,
        usage,
        ..Message::complete(job.message_id.clone(), Role::Assistant, text, now_ms())
    };
    reply.set_source(source.clone());
    job.keep
        .upsert_message(&job.conversation_id, &job.site, reply, now_ms())
        .await
        .map(|_| ())
}

/// Answers `job` with `config`, streaming its text; what the attempt
/// amounts to is decided by `core::answer::outcome`: a failure before any
/// text reached the user is returned (the chain moves on); once text has
/// streamed, a failure stores the answer as interrupted ("Continue" may
/// finish it) and is reported, never retried.
pub(super) async fn answer_with(
    running: &Running,
    store: &Store,
    config: &ProviderConfig,
    source: &AnswerSource,
    job: &Job,
    cancel: &Cancel,
    failures: &mut Vec<paperclip_core::resilience::FailureKind>,
) -> Attempt {
    // Only what the user allows leaves the browser: in Firefox, the data
    // collection consent this provider needs (revocable in about:addons).
    let needs = paperclip_core::consent::for_provider(config.settings());
    let missing = paperclip_platform::consent::missing(&needs).await;
    if !missing.is_empty() {
        return Attempt::Failed(paperclip_core::consent::not_allowed(&missing));
    }
    let preferences = store.preferences();
    let request = job.request(&preferences);
    let mut text = String::new();
    // The provider's pieces reach the agent in chunks of the size the user
    // chose (`performance.stream_chunk_chars`).
    let mut chunker = answer::Chunker::new(preferences.stream_chunk_chars);
    let mut kept = job.partial.as_deref().map_or(0, |p| p.chars().count());
    let mut cut = false;
    let mut started = false;
    let mut on_text = |piece: &str| {
        // An endless answer is cut at the limit (the request is aborted).
        let (piece, full) = answer::within_limit(kept, piece);
        kept += piece.chars().count();
        let piece = if full {
            cut = true;
            format!("{piece}{}", answer::CUT_NOTICE)
        } else {
            piece.to_string()
        };
        if !started {
            started = true;
            telemetry::event("answer.started", &[("ask", &job.message_id)]);
            running.send(&BgToAgent::AnswerStart {
                message_id: job.message_id.clone(),
                provider: source.provider.clone(),
                level: source.level,
            });
        }
        text.push_str(&piece);
        if let Some(chunk) = chunker.push(&piece, now_ms()) {
            running.send(&BgToAgent::AnswerChunk {
                message_id: job.message_id.clone(),
                text: chunk,
            });
        }
        !cut
    };
    // The whole call to this provider (its queue, attempts and waits), with
    // the tokens and cost of the answer when it came.
    let call = telemetry::child_of_current(
        paperclip_core::telemetry::span::names::PROVIDER_CALL,
        SpanKind::Client,
    );
    let result = crate::resilient::stream(store, config, &request, cancel, &mut on_text).await;
    if let Err(f) = &result {
        let id = &config.settings().id;
        crate::errors::provider_failed(id, &job.message_id, f.kind, &f.error);
        failures.push(f.cause());
    }
    if let Some(rest) = chunker.finish() {
        running.send(&BgToAgent::AnswerChunk {
            message_id: job.message_id.clone(),
            text: rest,
        });
    }
    let usage = match result.as_ref().ok().and_then(|done| done.usage) {
        Some((tokens_in, tokens_out)) => {
            let prices = crate::providers::prices(store).await;
            Some(prices.usage(config.settings(), tokens_in, tokens_out))
        }
        None => None,
    };
    if let Some(mut call) = call {
        call.set_attribute("provider.kind", config.settings().kind.as_str());
        if let Some(u) = usage {
            call.set_attribute("tokens.in", u.tokens_in as i64);
            call.set_attribute("tokens.out", u.tokens_out as i64);
            call.set_attribute("cost_usd", u.cost_micro_usd as f64 / 1e6);
        }
        let failed = result.as_ref().err().map(|f| f.kind.as_str());
        telemetry::end(call, failed);
    }
    let outcome = answer::outcome(
        // Cut at the limit: complete as kept, with its notice.
        if cut {
            Ok(())
        } else {
            result.map(|_| ()).map_err(|f| f.error)
        },
        started,
        cancel.is_stopped(),
    );
    let Attempt::Answered { status, error } = &outcome else {
        return outcome;
    };
    let status = *status;
    record_level(source.level);
    let stored = if running.discarded() {
        Err(ProtocolError::failed("the conversation's data was deleted"))
    } else {
        store_answer(job, source, text.clone(), status, usage).await
    };
    if stored.is_ok() {
        if let Some(usage) = usage {
            let _ = job.keep.record_usage(&job.conversation_id, usage).await;
            let now = now_ms();
            let offset = paperclip_platform::clock::utc_offset_min(now);
            let _ = job
                .keep
                .record_daily_usage(&source.provider, usage, now, offset)
                .await;
        }
        let ttl = crate::resilient::settings(store).await.answer_cache_ttl_ms;
        if answer::cacheable(status, ttl, job.context.is_some()) {
            let full = match &job.partial {
                Some(partial) => format!("{partial}{text}"),
                None => text,
            };
            let answer = CachedAnswer {
                text: full,
                provider: config.settings().label.clone(),
                answered_ms: now_ms() as u64,
            };
            let key = answer_key(&job.question, &job.page);
            let entry = answer.entry(key, &config.settings().id, now_ms() as u64, ttl);
            let _ = job.keep.cache_put(entry, now_ms() as u64).await;
        }
    }
    if let Err(e) = stored {
        running.fail(e);
    }
    running.send(&BgToAgent::AnswerDone {
        message_id: job.message_id.clone(),
        status,
        usage,
    });
    if status == MessageStatus::Complete {
        telemetry::event("answer.completed", &[("ask", &job.message_id)]);
        // A provider answers: questions that waited for it may be asked.
        queued::soon();
    }
    if let Some(error) = error {
        running.fail(ProtocolError::failed(format!(
            "the answer stopped: {error}. Press Continue to finish it"
        )));
    }
    outcome
}
