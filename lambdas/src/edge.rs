//! Admin changes, told to the hubs at the edge. When the hubs run as the Worker's site
//! objects, the API is elsewhere (a Lambda, or the local server on the edge stack): it
//! POSTs a signed [`ChangeNotice`] naming the sites that must hear it, and answers its
//! own request once the Worker has applied it (or the retries ran out).

use std::time::Duration;

use vitrine_core::changes::{self, Audience, ChangeNotice, Changed};
use vitrine_core::clock::now_ms;
use vitrine_core::delivery::{self, Delivery};
use vitrine_core::media_key::SIGNATURE_HEADER;
use vitrine_core::store::accounts;

use crate::{Backend, OnChange};

/// The hook that tells the Worker at `origin`, signing with `key` (its `VITRINE_CHANGES_KEY`).
pub fn notify_edge<S: Backend + Send>(store: S, origin: &str, key: &[u8]) -> OnChange {
    let url = format!("{}{}", origin.trim_end_matches('/'), changes::CHANGES_PATH);
    let key = key.to_vec();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    std::sync::Arc::new(move |change: Changed| {
        let (store, url, key, http) = (store.clone(), url.clone(), key.clone(), http.clone());
        Box::pin(async move {
            let sites = match change.audience() {
                Audience::Site(site) => vec![site.to_string()],
                Audience::Account(account) => {
                    match accounts::account_sites(&store, account).await {
                        Ok(sites) => sites.into_iter().map(|s| s.site_key).collect(),
                        Err(e) => {
                            tracing::error!(error = %e, "sites of the account unreadable; the edge was not told of a change");
                            return;
                        }
                    }
                }
            };
            if sites.is_empty() {
                return;
            }
            let notice = ChangeNotice {
                change,
                sites,
                at: now_ms(),
            };
            let (body, signature) = changes::sign_notice(&key, &notice);
            let send = || async {
                let sent = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, &signature)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) => Some(r.status().as_u16()),
                    Err(e) => {
                        tracing::warn!(error = %e, "change notice not sent");
                        None
                    }
                }
            };
            match delivery::deliver(send, tokio::time::sleep).await {
                Delivery::Delivered => {}
                Delivery::Refused(status) => tracing::error!(
                    status,
                    "the edge refused a change notice (is VITRINE_CHANGES_KEY the same on both?)"
                ),
                Delivery::GaveUp => {
                    tracing::error!(change = ?notice.change, "the edge did not hear a change")
                }
            }
        })
    })
}
