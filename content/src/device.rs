//! Chrome's on-device AI from the agent's page (a window, where
//! `Translator`, `LanguageDetector` and `Summarizer` live): feature
//! detection, availability, a model download with its progress (started
//! only from the user's click), and the work itself. What the background
//! asked for is a `core::on_device::Task`.

use js_sys::{Array, Function, Object, Promise, Reflect};
use paperclip_core::on_device::Task;
use paperclip_core::provider::builtin::Availability;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Where download progress (0..=1) is reported.
pub type Progress = std::rc::Rc<dyn Fn(f64)>;

/// The global `name` (`Translator`, …), when this page has it.
fn api(name: &str) -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn text_of(e: &JsValue) -> String {
    paperclip_platform::error_text(e)
}

/// Calls `target.name(args…)` and awaits it when it is a promise.
async fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let f: Function = Reflect::get(target, &name.into())
        .map_err(|e| text_of(&e))?
        .dyn_into()
        .map_err(|_| format!("{name} is not a function"))?;
    let out = f
        .apply(target, &args.iter().collect::<Array>())
        .map_err(|e| text_of(&e))?;
    match out.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await.map_err(|e| text_of(&e)),
        Err(v) => Ok(v),
    }
}

fn options(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), &(*v).into());
    }
    o
}

/// What the device can do for `task` now, and the source language a
/// translation would start from (when it could be detected without a
/// download).
pub async fn prepare(task: &Task) -> (Availability, Option<String>) {
    match task {
        Task::Translate { text, target } => {
            let Some(translator) = api("Translator") else {
                return (Availability::NoApi, None);
            };
            let Some(source) = detect(text, false).await.ok().flatten() else {
                // The language cannot be told without the detector's model.
                return match api("LanguageDetector") {
                    Some(d) => (availability(&d, &Object::new()).await, None),
                    None => (Availability::NoApi, None),
                };
            };
            let pair = options(&[("sourceLanguage", &source), ("targetLanguage", target)]);
            (availability(&translator, &pair).await, Some(source))
        }
        Task::Summarize { .. } => match api("Summarizer") {
            Some(s) => (availability(&s, &summary_options()).await, None),
            None => (Availability::NoApi, None),
        },
    }
}

async fn availability(api: &JsValue, options: &Object) -> Availability {
    match call(api, "availability", &[options.into()]).await {
        Ok(v) => Availability::parse(&v.as_string().unwrap_or_default()),
        Err(_) => Availability::Unavailable,
    }
}

fn summary_options() -> Object {
    options(&[
        ("type", "tldr"),
        ("format", "plain-text"),
        ("length", "medium"),
    ])
}

/// `create(options)` of `api` with a `monitor` reporting download
/// progress (0..=1) to `progress` as it comes.
async fn create(api: &JsValue, options: Object, progress: Progress) -> Result<JsValue, String> {
    let on_progress = Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
        let loaded = Reflect::get(&e, &"loaded".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        progress(loaded.clamp(0.0, 1.0));
    });
    let listener: JsValue = on_progress.as_ref().clone();
    let monitor = Closure::<dyn Fn(JsValue)>::new(move |m: JsValue| {
        if let Ok(add) = Reflect::get(&m, &"addEventListener".into()) {
            if let Some(add) = add.dyn_ref::<Function>() {
                let _ = add.call2(&m, &"downloadprogress".into(), &listener);
            }
        }
    });
    let _ = Reflect::set(&options, &"monitor".into(), monitor.as_ref());
    let created = call(api, "create", &[options.into()]).await;
    drop((monitor, on_progress));
    created
}

/// The language of `text` (`download`: the detector's model may be
/// fetched first); `None` when unsure.
async fn detect(text: &str, download: bool) -> Result<Option<String>, String> {
    let Some(d) = api("LanguageDetector") else {
        return Ok(None);
    };
    if !download && availability(&d, &Object::new()).await != Availability::Available {
        return Ok(None);
    }
    let detector = create(&d, Object::new(), std::rc::Rc::new(|_| {})).await?;
    let found = call(&detector, "detect", &[text.into()]).await?;
    let best = Array::from(&found).get(0);
    let language = Reflect::get(&best, &"detectedLanguage".into())
        .ok()
        .and_then(|l| l.as_string())
        .filter(|l| l != "und" && !l.is_empty());
    Ok(language)
}

/// Does `task` (after any download, reported through `progress`): the
/// device's text and the source language of a translation.
pub async fn run(
    task: &Task,
    source: Option<String>,
    progress: Progress,
) -> Result<(String, Option<String>), String> {
    match task {
        Task::Translate { text, target } => {
            let translator = api("Translator").ok_or("this browser has no Translator")?;
            let source = match source {
                Some(s) => s,
                None => detect(text, true)
                    .await?
                    .ok_or("the selection's language could not be told")?,
            };
            let pair = options(&[("sourceLanguage", &source), ("targetLanguage", target)]);
            let t = create(&translator, pair, progress).await?;
            let out = call(&t, "translate", &[text.into()]).await?;
            let _ = call(&t, "destroy", &[]).await;
            Ok((out.as_string().unwrap_or_default(), Some(source)))
        }
        Task::Summarize { title, text } => {
            let summarizer = api("Summarizer").ok_or("this browser has no Summarizer")?;
            let options = summary_options();
            let _ = Reflect::set(&options, &"sharedContext".into(), &title.into());
            let s = create(&summarizer, options, progress).await?;
            let out = call(&s, "summarize", &[text.into()]).await?;
            let _ = call(&s, "destroy", &[]).await;
            Ok((out.as_string().unwrap_or_default(), None))
        }
    }
}
