//! The on-device task the background handed over: checked at once, done
//! at once when the model is ready; otherwise an offer to download it
//! (only this click starts a download), with its progress.

use paperclip_core::on_device::{download_offer, Task};
use paperclip_core::provider::builtin::Availability;
use yew::prelude::*;

use crate::device;

/// What came of a task: the device's text and a translation's source
/// language, or why not.
pub type Done = (String, Result<(String, Option<String>), String>);

/// Props of [`OnDeviceCard`].
#[derive(Properties, PartialEq)]
pub struct OnDeviceCardProps {
    /// The answer being made.
    pub message_id: String,
    /// What to do.
    pub task: Task,
    /// Whether a model download may be offered (else only a ready model
    /// is used).
    pub offer_download: bool,
    /// The task ended.
    pub on_done: Callback<Done>,
}

#[derive(Clone, PartialEq)]
enum Phase {
    Checking,
    Offer(String),
    Working(Option<f64>),
}

/// The on-device task.
#[function_component(OnDeviceCard)]
pub fn on_device_card(p: &OnDeviceCardProps) -> Html {
    let phase = use_state(|| Phase::Checking);
    let source = use_mut_ref(|| None::<String>);
    let start = {
        let (phase, source) = (phase.clone(), source.clone());
        let (task, id, done) = (p.task.clone(), p.message_id.clone(), p.on_done.clone());
        move || {
            phase.set(Phase::Working(None));
            let progress: device::Progress = {
                let phase = phase.clone();
                std::rc::Rc::new(move |v| phase.set(Phase::Working(Some(v))))
            };
            let detected = source.borrow().clone();
            let (task, id, done) = (task.clone(), id.clone(), done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = device::run(&task, detected, progress).await;
                done.emit((id, result));
            });
        }
    };
    {
        let (phase, source, start) = (phase.clone(), source.clone(), start.clone());
        let (task, id, done) = (p.task.clone(), p.message_id.clone(), p.on_done.clone());
        let offer = p.offer_download;
        use_effect_with(p.message_id.clone(), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let (availability, detected) = device::prepare(&task).await;
                *source.borrow_mut() = detected;
                match availability {
                    Availability::Available => start(),
                    Availability::Downloadable | Availability::Downloading if offer => {
                        phase.set(Phase::Offer(download_offer(&task, None)))
                    }
                    Availability::Downloadable | Availability::Downloading => {
                        done.emit((id, Err("the on-device model is not downloaded".into())))
                    }
                    Availability::NoApi => done.emit((id, Err("no on-device AI here".into()))),
                    Availability::Unavailable => {
                        done.emit((id, Err("the on-device model is unavailable".into())))
                    }
                }
            });
        });
    }
    let download = Callback::from(move |_: MouseEvent| start());
    let decline = {
        let (id, done) = (p.message_id.clone(), p.on_done.clone());
        Callback::from(move |_: MouseEvent| {
            done.emit((id.clone(), Err("the model download was declined".into())))
        })
    };
    let what = match p.task {
        Task::Translate { .. } => "On-device translation",
        Task::Summarize { .. } => "On-device summary",
    };
    html! {
        <section class="on-device" role="region" aria-label={what}>
            { match &*phase {
                Phase::Checking => html! { <p role="status">{ format!("{what}: checking this browser…") }</p> },
                Phase::Offer(offer) => html! {
                    <>
                        <p role="status">{ offer.clone() }</p>
                        <button type="button" class="primary" onclick={download}>{ "Download the model" }</button>
                        <button type="button" onclick={decline}>{ "Not now" }</button>
                    </>
                },
                Phase::Working(None) => html! { <p role="status">{ format!("{what}: working on this device…") }</p> },
                Phase::Working(Some(loaded)) => html! {
                    <>
                        <p role="status">{ format!("Downloading the model… {:.0}%", loaded * 100.0) }</p>
                        <progress max="1" value={loaded.to_string()} aria-label="Model download"></progress>
                    </>
                },
            } }
        </section>
    }
}
