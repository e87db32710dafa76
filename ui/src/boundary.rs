//! Parts of a page that fail alone: an [`ErrorBoundary`] around each part
//! (a section of the options page, the popup's status, the agent's
//! transcript...) shows "This part stopped working — Reload it" in its
//! place when a component inside reports an error ([`use_failure`]); the
//! rest of the page keeps working, and the error goes to telemetry with
//! its stack. "Reload it" mounts the part afresh.
//!
//! A Rust panic cannot be contained this way: in wasm it aborts the
//! module, and every part of the page with it. The panic hook
//! (`paperclip_platform::telemetry::init`) records it with its stack and
//! puts a notice with a reload link on the page instead.
//!
//! Test builds only (the `fail-points` feature): a part named in the
//! page's `localStorage["paperclip.fail-point"]` fails on mount (`name`)
//! or panics (`name:panic`), so that the end-to-end tests can check both
//! paths in real browsers.

use yew::prelude::*;

/// Reports a part's failure to its boundary.
#[derive(Clone, PartialEq)]
pub struct Failure(Callback<String>);

/// The callback that reports an error of the enclosing part (logged to
/// telemetry only, outside any boundary).
#[hook]
pub fn use_failure() -> Callback<String> {
    match use_context::<Failure>() {
        Some(Failure(report)) => report,
        None => Callback::from(|message: String| {
            paperclip_platform::telemetry::error(&message, "ui", js_stack());
        }),
    }
}

/// The JS stack where the error was reported.
fn js_stack() -> Option<String> {
    js_sys::Reflect::get(&js_sys::Error::new("part failed"), &"stack".into())
        .ok()
        .and_then(|s| s.as_string())
}

/// Names this page's telemetry and makes panics error records with their
/// stack and a reload notice (Yew's renderer would otherwise replace the
/// hook with its own): call before rendering.
pub fn install_panic_hook(source: &'static str) {
    paperclip_platform::telemetry::init(source);
    yew::set_custom_panic_hook(Box::new(paperclip_platform::telemetry::on_panic));
}

/// Props of [`ErrorBoundary`].
#[derive(Properties, PartialEq)]
pub struct BoundaryProps {
    /// The part's name (telemetry, the fail points, `data-part`).
    pub name: AttrValue,
    /// The part.
    #[prop_or_default]
    pub children: Html,
}

/// A part of a page that can fail alone.
pub struct ErrorBoundary {
    failed: Option<String>,
    /// Bumped by "Reload it", so the part mounts afresh.
    generation: u32,
}

/// What happens to a boundary.
pub enum BoundaryMsg {
    /// A component inside reported this error.
    Failed(String),
    /// The user pressed "Reload it".
    Reload,
}

impl Component for ErrorBoundary {
    type Message = BoundaryMsg;
    type Properties = BoundaryProps;

    fn create(_: &Context<Self>) -> Self {
        Self {
            failed: None,
            generation: 0,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: BoundaryMsg) -> bool {
        match msg {
            BoundaryMsg::Failed(message) => {
                let message = format!("{} stopped working: {message}", ctx.props().name);
                paperclip_platform::telemetry::error(&message, "ui", js_stack());
                // Sent at once: the page may be closed before the next batch.
                paperclip_platform::telemetry::flush();
                self.failed = Some(message);
            }
            BoundaryMsg::Reload => {
                self.failed = None;
                self.generation += 1;
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let name = ctx.props().name.clone();
        if self.failed.is_some() {
            let reload = ctx.link().callback(|_| BoundaryMsg::Reload);
            return html! {
                <div class="part-failed" role="alert" data-part={name}>
                    <span>{ "This part stopped working." }</span>
                    <button type="button" onclick={reload}>{ "Reload it" }</button>
                </div>
            };
        }
        let failure = Failure(ctx.link().callback(BoundaryMsg::Failed));
        html! {
            <ContextProvider<Failure> context={failure}>
                <div class="part" data-part={name.clone()} key={self.generation}>
                    <FailPoint {name} />
                    { ctx.props().children.clone() }
                </div>
            </ContextProvider<Failure>>
        }
    }
}

/// Props of [`FailPoint`].
#[derive(Properties, PartialEq)]
struct FailPointProps {
    name: AttrValue,
}

/// Test builds: fails (or panics in) the part named in the fail point.
#[cfg(feature = "fail-points")]
#[function_component(FailPoint)]
fn fail_point(props: &FailPointProps) -> Html {
    use gloo_storage::{LocalStorage, Storage};
    let report = use_failure();
    let name = props.name.to_string();
    use_effect_with((), move |_| {
        let wanted = LocalStorage::raw()
            .get_item("paperclip.fail-point")
            .ok()
            .flatten()
            .unwrap_or_default();
        if wanted == format!("{name}:panic") {
            panic!("fail point {name}: a panic on purpose");
        }
        if wanted == name {
            report.emit("fail point: an error on purpose".into());
        }
    });
    html! {}
}

/// Release builds: nothing.
#[cfg(not(feature = "fail-points"))]
#[function_component(FailPoint)]
fn fail_point(_: &FailPointProps) -> Html {
    html! {}
}
