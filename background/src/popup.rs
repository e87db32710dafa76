//! The toolbar popup's status line (`GetPopupStatus`: who answers now, the
//! site's "Clippy on this site" setting, a storage warning) and that
//! setting (`SetSiteAccess`, the `agent.never_sites` preference), which
//! [`refusal`] enforces on every way of showing the agent.

use paperclip_core::prefs;
use paperclip_core::protocol::{
    self, AnsweringNow, GetPopupStatus, PopupStatus, ProtocolError, SetSiteAccess, SiteAccessSet,
};
use paperclip_core::resilience::breaker::BreakerState;

use crate::store::Store;

/// The popup's status.
pub async fn status(store: &Store, r: GetPopupStatus) -> Result<PopupStatus, ProtocolError> {
    let chain = crate::providers::chain(store).await?;
    let ids: Vec<String> = chain.iter().map(|c| c.settings().id.clone()).collect();
    let breakers = crate::resilient::breakers(store, &ids).await;
    let now = paperclip_platform::clock::now_ms() as u64;
    let answering = chain.iter().find_map(|config| {
        let id = &config.settings().id;
        let state = breakers
            .iter()
            .find(|b| &b.provider_id == id)
            .map_or(BreakerState::Closed, |b| b.state);
        let breaker = match state {
            BreakerState::Open { until_ms } if until_ms > now => return None,
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => "half_open",
            BreakerState::Closed => "closed",
        };
        Some(AnsweringNow {
            provider: config.settings().label.clone(),
            breaker: breaker.into(),
            last_latency_ms: crate::resilient::last_latency(id),
        })
    });
    let site = r.site.and_then(|s| prefs::origin(&s).ok());
    let never = store.preferences().never_sites;
    let storage = store.status().await.ok();
    if let Some(s) = &storage {
        crate::budget::observe(&paperclip_platform::memory::sample(), Some(s.usage_bytes));
    }
    let storage_warning = storage.and_then(|s| protocol::storage_warning(&s));
    Ok(PopupStatus {
        answering,
        site_allowed: site.as_ref().is_none_or(|s| !never.contains(s)),
        site,
        storage_warning,
        budget_warning: crate::budget::status().warning(),
    })
}

/// Turns Clippy on or off ("never") on a site.
pub async fn set_site_access(
    store: &Store,
    r: SetSiteAccess,
) -> Result<SiteAccessSet, ProtocolError> {
    let site = prefs::origin(&r.site).map_err(|e| {
        ProtocolError::new(protocol::ErrorKind::Malformed, format!("not a site: {e}"))
    })?;
    let mut never = store.preferences().never_sites;
    never.retain(|s| s != &site);
    if r.never {
        never.push(site.clone());
    }
    store
        .set_preference("agent.never_sites", &serde_json::json!(never))
        .await?;
    Ok(SiteAccessSet {
        site,
        never: r.never,
    })
}

/// Why the agent may not be shown on the page at `url`, if the user set its
/// site to "never".
pub fn refusal(store: &Store, url: Option<&str>) -> Option<String> {
    let site = prefs::origin(&web_sys::Url::new(url?).ok()?.origin()).ok()?;
    store
        .preferences()
        .never_sites
        .contains(&site)
        .then(|| protocol::never_here(&site))
}
