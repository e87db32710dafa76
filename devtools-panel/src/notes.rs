//! Notes on the timeline (`core::telemetry::annotations`): "Add a note"
//! puts a text on the window shown; the notes overlapping it are listed,
//! each zooming to its range or deleted; kept in `localStorage`.

use paperclip_core::telemetry::annotations::Notes;
use paperclip_ui::format_time;
use yew::prelude::*;

use crate::saved;

/// Where the notes are kept.
const NOTES_KEY: &str = "paperclip.panel.notes";

/// Props: the window shown and how to zoom to a note.
#[derive(Properties, PartialEq)]
pub struct NotesProps {
    /// The window shown, ms since the epoch.
    pub from_ms: f64,
    /// Its end.
    pub to_ms: f64,
    /// Shows `[from, to]` (ms).
    pub on_zoom: Callback<(f64, f64)>,
}

/// The notes of the window shown, and the form to add one.
#[function_component(NotesBar)]
pub fn notes_bar(props: &NotesProps) -> Html {
    let notes =
        use_state(|| saved::get(NOTES_KEY).map_or_else(Notes::default, |t| Notes::read(&t)));
    let draft = use_state(String::new);
    let message = use_state(|| None::<Result<String, String>>);
    let keep = {
        let notes = notes.clone();
        move |next: Notes| {
            saved::set(NOTES_KEY, &next.to_json());
            notes.set(next);
        }
    };
    let on_draft = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            draft.set(input.value());
        })
    };
    let add = {
        let (notes, draft, message, keep) =
            (notes.clone(), draft.clone(), message.clone(), keep.clone());
        let (from, to) = (props.from_ms, props.to_ms);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut next = (*notes).clone();
            match next.add(from, to, &draft) {
                Ok(()) => {
                    keep(next);
                    message.set(Some(Ok(format!(
                        "Noted {} – {}.",
                        format_time(from),
                        format_time(to)
                    ))));
                    draft.set(String::new());
                }
                Err(why) => message.set(Some(Err(why))),
            }
        })
    };
    html! {
        <div class="notes">
            <form class="filters" onsubmit={add}>
                <input type="text" aria-label="Note on the window shown" placeholder="a note on this window"
                    value={(*draft).clone()} oninput={on_draft} />
                <button type="submit">{ "Add a note" }</button>
            </form>
            { paperclip_ui::status_line(&message) }
            <ul class="note-list" aria-label="Notes">
            { for notes.overlapping(props.from_ms, props.to_ms).map(|(i, n)| {
                let (from, to) = (n.from_ms, n.to_ms);
                let zoom = {
                    let on_zoom = props.on_zoom.clone();
                    Callback::from(move |_: MouseEvent| on_zoom.emit((from, to)))
                };
                let delete = {
                    let (notes, keep) = (notes.clone(), keep.clone());
                    Callback::from(move |_: MouseEvent| {
                        let mut next = (*notes).clone();
                        next.remove(i);
                        keep(next);
                    })
                };
                html! {
                    <li class="note">
                        <span class="note-text">{ n.text.clone() }</span>
                        <span class="meta">{ format!(" · {} – {} ", format_time(from), format_time(to)) }</span>
                        <button type="button" onclick={zoom} aria-label={format!("Show the window of the note {}", n.text)}>{ "Show" }</button>
                        <button type="button" onclick={delete} aria-label={format!("Delete the note {}", n.text)}>{ "Delete" }</button>
                    </li>
                }
            }) }
            </ul>
        </div>
    }
}
