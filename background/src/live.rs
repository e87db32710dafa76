//! The devtools panel's live port (`TELEMETRY_PORT`): the telemetry
//! engine's answers pushed once a second while the panel is open.

use paperclip_core::protocol::{TelemetryUpdate, TELEMETRY_PORT};
use paperclip_core::sender::Channel;
use paperclip_core::telemetry::panel::PanelQuery;
use wasm_bindgen::prelude::*;
use web_extensions_sys::Port;

/// How often the live port is updated, ms.
const LIVE_MS: u32 = 1_000;

/// What the live port pushes now (with the memory as it is now).
pub fn update() -> Option<TelemetryUpdate> {
    crate::telemetry::sample_memory();
    crate::telemetry::with(|e, now| {
        let now_ns = (now * 1e6) as u64;
        TelemetryUpdate::Update {
            time_ms: now,
            answers: [
                PanelQuery::Metrics,
                PanelQuery::Health,
                PanelQuery::Errors { limit: 50 },
                PanelQuery::Spans {
                    from_ns: now_ns.saturating_sub(600_000_000_000),
                    to_ns: now_ns + 1_000_000_000,
                    limit: 300,
                },
                PanelQuery::Export,
                PanelQuery::Funnels,
            ]
            .iter()
            .map(|q| e.query(q))
            .collect(),
        }
    })
}

/// Serves the devtools panel's live port: an update now, then one a
/// second until the panel closes. Only extension pages may subscribe.
pub fn subscribe(port: Port) {
    let allowed = port.sender().is_some_and(|s| {
        crate::caller_of(&s)
            .is_ok_and(|c| paperclip_core::sender::check(&c, Channel::Port(TELEMETRY_PORT)).is_ok())
    });
    if port.name() != TELEMETRY_PORT || !allowed {
        port.disconnect();
        return;
    }
    let push = {
        let port = port.clone();
        move || {
            if let Some(update) = update() {
                paperclip_platform::post(&port, &paperclip_core::protocol::encode(&update));
            }
        }
    };
    push();
    let tick = paperclip_platform::timer::Interval::new(LIVE_MS, push);
    let tick = std::cell::RefCell::new(Some(tick));
    let on_disconnect = Closure::<dyn Fn(JsValue)>::new(move |_| {
        // Dropping the interval clears it.
        tick.borrow_mut().take();
    });
    paperclip_platform::listen(&port.on_disconnect(), on_disconnect);
}
