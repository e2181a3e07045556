//! The CDN's files, on both targets (the local server, and Workers static assets through
//! the Worker): a short-lived loader, an immutable widget release whose bytes match the
//! integrity hash published for shops that pin it (SRI), the portal's security headers.

mod common;

use anyhow::{Context, Result};
use base64::Engine;
use sha2::{Digest, Sha384};

async fn get(url: String) -> Result<reqwest::Response> {
    let res = reqwest::get(&url).await?;
    anyhow::ensure!(res.status() == 200, "{url}: {}", res.status());
    Ok(res)
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_loader_is_short_lived_and_the_release_immutable_and_as_published() -> Result<()> {
    let s = common::stack().await?;
    let loader = get(format!("{}/widget.js", s.hub)).await?;
    assert_eq!(header(&loader, "cache-control"), "public, max-age=300");
    assert_eq!(header(&loader, "access-control-allow-origin"), "*");
    let loader = loader.text().await?;

    let published: serde_json::Value = get(format!("{}/widget.json", s.hub)).await?.json().await?;
    for part in ["widget", "call"] {
        let src = published[part]["src"].as_str().context("src")?;
        let integrity = published[part]["integrity"].as_str().context("integrity")?;
        assert!(src.starts_with("/w/"), "{src}");
        let release = get(format!("{}{src}", s.hub)).await?;
        assert_eq!(
            header(&release, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        // Loaded with `crossorigin`, so integrity is checked: it needs CORS.
        assert_eq!(header(&release, "access-control-allow-origin"), "*");
        let bytes = release.bytes().await?;
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes));
        assert_eq!(integrity, format!("sha384-{hash}"), "{src}");
    }
    // The loader names this release and its hash.
    let widget = &published["widget"];
    assert!(loader.contains(widget["src"].as_str().unwrap()));
    assert!(loader.contains(widget["integrity"].as_str().unwrap()));

    let portal = get(format!("{}/portal/", s.hub)).await?;
    let csp = header(&portal, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&portal, "x-frame-options"), "DENY");
    // The headers file configures; it is not served.
    let rules = reqwest::get(format!("{}/_headers", s.hub)).await?;
    assert!(
        rules.status() == 404 || !rules.text().await?.contains("Cache-Control"),
        "_headers must not be served"
    );
    Ok(())
}
