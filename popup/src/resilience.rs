//! The options page's resilience settings (a form generated from the core's
//! field table; each change is validated in the page and again in the
//! background), the breakers and degradation level as they stand, and the
//! price table used for the cost of answers.

use paperclip_core::protocol::{
    GetPrices, GetResilience, ListProviders, ProviderList, ResilienceStatus, SetPrices,
    SetResilience,
};
use paperclip_core::provider::price::PriceTable;
use paperclip_core::resilience::breaker::BreakerState;
use paperclip_core::resilience::settings::{ResilienceSettings, Unit, FIELDS};
use paperclip_platform as platform;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

fn breaker_text(state: BreakerState, now_ms: u64) -> String {
    match state {
        BreakerState::Closed => "working (closed)".into(),
        BreakerState::Open { until_ms } => format!(
            "paused after failures (open; next try in {} s)",
            until_ms.saturating_sub(now_ms).div_ceil(1000)
        ),
        BreakerState::HalfOpen { .. } => "recovering (half-open: trying a request)".into(),
    }
}

/// What a breaker's provider is called: its label, or, when the provider
/// is gone, its id marked as removed.
fn provider_name(id: &str, labels: &[(String, String)]) -> String {
    match labels.iter().find(|(pid, _)| pid == id) {
        Some((_, label)) => label.clone(),
        None => format!("Removed provider ({id})"),
    }
}

/// The resilience section.
#[function_component(ResilienceSection)]
pub fn resilience_section() -> Html {
    let (status, reload) = paperclip_ui::use_rpc_live(
        GetResilience {},
        |s: ResilienceStatus| s,
        &[paperclip_core::protocol::Topic::Providers],
    );
    let (providers, _) = paperclip_ui::use_rpc_live(
        ListProviders {},
        |l: ProviderList| {
            l.providers
                .into_iter()
                .map(|p| (p.settings.id, p.settings.label))
                .collect::<Vec<_>>()
        },
        &[paperclip_core::protocol::Topic::Providers],
    );
    let line = use_state(|| None::<Result<String, String>>);
    let save = {
        let (status, line, reload) = (status.clone(), line.clone(), reload.clone());
        Callback::from(move |(key, value): (&'static str, f64)| {
            let Some(Ok(current)) = &*status else {
                return;
            };
            let mut settings: ResilienceSettings = current.settings;
            if let Err(e) = settings.set(key, value) {
                line.set(Some(Err(format!("Not saved: {e}"))));
                reload();
                return;
            }
            let (line, reload) = (line.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(SetResilience { settings })
                    .await
                    .map(|_| format!("Saved {key}."))
                    .map_err(|e| format!("Not saved: {}", e.message));
                line.set(Some(r));
                reload();
            });
        })
    };
    let body = match &*status {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(s)) => {
            let now = paperclip_platform::clock::now_ms() as u64;
            let mut groups: Vec<&'static str> = Vec::new();
            for f in FIELDS {
                if !groups.contains(&f.group) {
                    groups.push(f.group);
                }
            }
            html! {
                <>
                <dl class="resilience-status">
                    <dt>{ "Answers now come from" }</dt>
                    <dd class="degradation" data-level={s.degradation.as_str()}>
                        { s.degradation.label().unwrap_or("the primary provider") }
                    </dd>
                    { for s.breakers.iter().map(|b| html! {
                        <>
                        <dt>{ match &*providers {
                            Some(Ok(labels)) => provider_name(&b.provider_id, labels),
                            _ => "Provider".to_string(),
                        } }</dt>
                        <dd class="breaker">{ breaker_text(b.state, now) }</dd>
                        </>
                    }) }
                </dl>
                { for groups.into_iter().map(|g| html! {
                    <fieldset>
                        <legend>{ g }</legend>
                        { for FIELDS.iter().filter(|f| f.group == g).map(|f| {
                            let value = s.settings.get(f.key).unwrap_or_default();
                            field_row(f.key, f.label, f.unit, f.min, f.max, value, save.clone())
                        }) }
                    </fieldset>
                }) }
                </>
            }
        }
    };
    html! {
        <section class="resilience">
            <h2>{ "Reliability" }</h2>
            <p>{ "How Clippy copes with failing providers: retries, a circuit breaker that pauses a failing provider, timeouts, limits, and cached answers. Each provider gets its own breaker and limits." }</p>
            { body }
            { paperclip_ui::status_line(&line) }
            <PricesSection />
        </section>
    }
}

fn field_row(
    key: &'static str,
    label: &'static str,
    unit: Unit,
    min: f64,
    max: f64,
    value: f64,
    save: Callback<(&'static str, f64)>,
) -> Html {
    let id = format!("res-{}", key.replace('.', "-"));
    let control = match unit {
        Unit::Choice(options) => {
            let onchange = Callback::from(move |e: Event| {
                let select: HtmlSelectElement = e.target_unchecked_into();
                if let Ok(i) = select.value().parse::<f64>() {
                    save.emit((key, i));
                }
            });
            html! {
                <select id={id.clone()} {onchange}>
                    { for options.iter().enumerate().map(|(i, o)| html! {
                        <option value={i.to_string()} selected={value as usize == i}>{ *o }</option>
                    }) }
                </select>
            }
        }
        _ => {
            let step = if unit == Unit::Ratio { "0.01" } else { "1" };
            let onchange = Callback::from(move |e: Event| {
                let input: HtmlInputElement = e.target_unchecked_into();
                if let Ok(v) = input.value().trim().parse::<f64>() {
                    save.emit((key, v));
                }
            });
            html! {
                <input id={id.clone()} type="number" min={min.to_string()} max={max.to_string()} {step}
                    value={value.to_string()} {onchange} />
            }
        }
    };
    let unit_text = match unit {
        Unit::Ms => " (ms)",
        _ => "",
    };
    html! {
        <div class="pref">
            <label for={id}>{ format!("{label}{unit_text}") }</label>
            { control }
        </div>
    }
}

/// The price table, edited as text: one `model-or-prefix* input output`
/// line per entry, in USD per million tokens.
#[function_component(PricesSection)]
fn prices_section() -> Html {
    let (text, reload) = paperclip_ui::use_rpc_live(
        GetPrices {},
        |p: paperclip_core::protocol::PriceList| (p.table.to_lines(), p.defaults),
        &[paperclip_core::protocol::Topic::Providers],
    );
    let line = use_state(|| None::<Result<String, String>>);
    let area = use_node_ref();
    let store = {
        let (line, reload) = (line.clone(), reload.clone());
        move |table: Option<PriceTable>| {
            let (line, reload) = (line.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(SetPrices { table })
                    .await
                    .map(|p| format!("Saved {} prices.", p.table.entries.len()))
                    .map_err(|e| format!("Not saved: {}", e.message));
                line.set(Some(r));
                reload();
            });
        }
    };
    let onsubmit = {
        let (area, line, store) = (area.clone(), line.clone(), store.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = area
                .cast::<HtmlTextAreaElement>()
                .map(|a| a.value())
                .unwrap_or_default();
            match PriceTable::parse_lines(&typed) {
                Ok(table) => store(Some(table)),
                Err(e) => line.set(Some(Err(format!("Not saved: {e}")))),
            }
        })
    };
    let restore = Callback::from(move |_| store(None));
    let body = match &*text {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok((lines, defaults))) => html! {
            <form class="prices" {onsubmit}>
                <label for="prices">{ format!("One model per line: model id (or prefix ending in *), then input and output price in USD per million tokens{}.", if *defaults { " — the built-in prices" } else { "" }) }</label>
                <textarea id="prices" ref={area} rows="8" spellcheck="false" value={lines.clone()} />
                <div>
                    <button type="submit">{ "Save prices" }</button>
                    <button type="button" onclick={restore}>{ "Restore built-in prices" }</button>
                </div>
            </form>
        },
    };
    html! {
        <fieldset>
            <legend>{ "Prices" }</legend>
            { body }
            { paperclip_ui::status_line(&line) }
        </fieldset>
    }
}
