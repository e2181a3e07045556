//! The built web files (`web/dist`): the widget's loader and releases, the portal. Their
//! caching and security headers come from the `_headers` file the build puts beside them
//! (Cloudflare's format, which Workers static assets apply at the edge), so both runtimes
//! serve the same headers from one source.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// `_headers` rules: a path pattern (exact, or a prefix ending in `*`) and its headers.
#[derive(Debug, Default, Clone)]
pub struct HeaderRules(Vec<(String, Vec<(HeaderName, HeaderValue)>)>);

impl HeaderRules {
    /// Reads the format: a pattern on its own line, its `Name: value` lines indented,
    /// `#` comments.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut rules: Vec<(String, Vec<(HeaderName, HeaderValue)>)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if !line.starts_with(char::is_whitespace) {
                rules.push((trimmed.to_string(), Vec::new()));
                continue;
            }
            let (name, value) = trimmed
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("_headers line {}: not `Name: value`", n + 1))?;
            let rule = rules
                .last_mut()
                .ok_or_else(|| anyhow::anyhow!("_headers line {}: header before a path", n + 1))?;
            rule.1.push((name.trim().parse()?, value.trim().parse()?));
        }
        Ok(Self(rules))
    }

    fn matching<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a (HeaderName, HeaderValue)> {
        self.0
            .iter()
            .filter(move |(pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == pattern,
            })
            .flat_map(|(_, headers)| headers)
    }
}

/// The files, under their public paths (never `_headers` itself).
pub fn routes(web_dir: &Path) -> Router {
    Router::new()
        .route_service("/widget.js", ServeFile::new(web_dir.join("widget.js")))
        .route_service("/widget.json", ServeFile::new(web_dir.join("widget.json")))
        .nest_service("/w", ServeDir::new(web_dir.join("w")))
        .nest_service(
            "/portal",
            ServeDir::new(web_dir.join("portal")).append_index_html_on_directories(true),
        )
        .nest_service(
            "/mirror",
            ServeDir::new(web_dir.join("mirror")).append_index_html_on_directories(true),
        )
}

/// Middleware: the headers of every rule matching the request's path.
pub async fn apply_headers(
    State(rules): State<std::sync::Arc<HeaderRules>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    for (name, value) in rules.matching(&path) {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_patterns_take_their_headers() {
        let rules = HeaderRules::parse(
            "# comment\n/widget.js\n  Cache-Control: max-age=300\n/w/*\n  Cache-Control: immutable\n  X-A: 1\n",
        )
        .unwrap();
        let names = |path| {
            rules
                .matching(path)
                .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names("/widget.js"), ["cache-control=max-age=300"]);
        assert_eq!(
            names("/w/widget.abc.js"),
            ["cache-control=immutable", "x-a=1"]
        );
        assert!(names("/widget.jsx").is_empty());
        assert!(
            HeaderRules::parse("  X-A: 1\n").is_err(),
            "a header before any path"
        );
        assert!(HeaderRules::parse("/a\n  no colon\n").is_err());
    }
}
