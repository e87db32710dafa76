//! Usage today and this month per provider
//! ([`paperclip_core::protocol::GetUsage`]): a short list in the popup
//! ([`PopupUsage`]) and a table on the options page ([`UsageSection`]).

use paperclip_core::protocol::Topic;
use paperclip_core::protocol::{GetUsage, UsageReport};
use paperclip_core::usage::{format_usage, format_usage_short};
use paperclip_platform as platform;
use paperclip_ui::use_rpc_live;
use yew::prelude::*;

/// The request for now, in this machine's time zone.
fn request() -> GetUsage {
    GetUsage {
        now_ms: None,
        tz_offset_min: platform::clock::utc_offset_min(platform::clock::now_ms()),
    }
}

fn identity(r: UsageReport) -> UsageReport {
    r
}

/// Reloaded when answers are stored (each adds its usage).
const LIVE: &[Topic] = &[Topic::Usage, Topic::Conversations];

const NONE_YET: &str = "No provider has answered this month.";

/// The popup's lines: each provider's cost and tokens today and this month.
#[function_component(PopupUsage)]
pub fn popup_usage() -> Html {
    let (report, _) = use_rpc_live(request(), identity, LIVE);
    html! {
        <section class="usage" aria-label="Usage">
            <h2>{ "Usage" }</h2>
            { match &*report {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(r)) if r.rows.is_empty() => html! { <p class="meta">{ NONE_YET }</p> },
                Some(Ok(r)) => html! {
                    <ul>
                        { for r.rows.iter().map(|row| html! {
                            <li key={row.provider.clone()} class="provider-usage">
                                <strong>{ row.provider.clone() }</strong>
                                <span class="meta">{ format!(" Today: {} · This month: {}",
                                    format_usage_short(&row.today), format_usage_short(&row.month)) }</span>
                            </li>
                        }) }
                    </ul>
                },
            } }
        </section>
    }
}

/// The options page's table: tokens in and out and cost per provider,
/// today and this month, with their total.
#[function_component(UsageSection)]
pub fn usage_section() -> Html {
    let (report, _) = use_rpc_live(request(), identity, LIVE);
    html! {
        <section class="usage">
            <h2>{ "Usage" }</h2>
            <p>{ "Tokens your providers reported for their answers, and what they cost by the price table (answers from a server on this computer cost nothing; offline and cached answers use no tokens)." }</p>
            { match &*report {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(r)) if r.rows.is_empty() => html! { <p class="meta">{ NONE_YET }</p> },
                Some(Ok(r)) => {
                    let (today, month) = r.total();
                    html! {
                        <table class="usage" aria-label="Usage by provider">
                                <thead><tr>
                                    <th scope="col">{ "Provider" }</th>
                                    <th scope="col">{ format!("Today ({})", r.today) }</th>
                                    <th scope="col">{ format!("This month ({})", r.month) }</th>
                                </tr></thead>
                                <tbody>
                                    { for r.rows.iter().map(|row| html! {
                                        <tr key={row.provider.clone()}>
                                            <th scope="row">{ row.provider.clone() }</th>
                                            <td>{ format_usage(&row.today) }</td>
                                            <td>{ format_usage(&row.month) }</td>
                                        </tr>
                                    }) }
                                </tbody>
                                if r.rows.len() > 1 {
                                    <tfoot><tr>
                                        <th scope="row">{ "All providers" }</th>
                                        <td>{ format_usage(&today) }</td>
                                        <td>{ format_usage(&month) }</td>
                                    </tr></tfoot>
                                }
                        </table>
                    }
                }
            } }
        </section>
    }
}
