//! The web console: three static files compiled into the binary and served at `/`, under a
//! Content-Security-Policy that allows nothing but this origin's own script, style and API.
//! The console signs in with an API key and calls the REST API like any other client.
//!
//! `OMNITRAFFICK_CONSOLE_DIR` (a directory holding the same three files) makes the server
//! read them from disk on every request instead: for working on the console without
//! rebuilding.

use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// No inline script or style, no other origin, no framing, no plugins, no form posts.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    mime: "text/html; charset=utf-8",
    body: include_str!("console/index.html"),
};
const SCRIPT: Asset = Asset {
    name: "app.js",
    mime: "text/javascript; charset=utf-8",
    body: include_str!("console/app.js"),
};
const STYLE: Asset = Asset {
    name: "app.css",
    mime: "text/css; charset=utf-8",
    body: include_str!("console/app.css"),
};

/// The console's routes; `dir` serves the files from disk (development).
pub fn routes<S: Clone + Send + Sync + 'static>(dir: Option<PathBuf>) -> Router<S> {
    let page = |asset: &'static Asset| {
        let dir = dir.clone();
        get(move || serve(asset, dir.clone()))
    };
    Router::new()
        .route("/", page(&INDEX))
        .route("/console/app.js", page(&SCRIPT))
        .route("/console/app.css", page(&STYLE))
}

/// The directory named by `OMNITRAFFICK_CONSOLE_DIR`, if set and not empty.
pub fn dev_dir() -> Option<PathBuf> {
    std::env::var_os("OMNITRAFFICK_CONSOLE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

async fn serve(asset: &'static Asset, dir: Option<PathBuf>) -> Response {
    let body = match dir {
        None => asset.body.to_owned(),
        Some(d) => match tokio::fs::read_to_string(d.join(asset.name)).await {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(error = %e, file = asset.name, "console file unreadable in OMNITRAFFICK_CONSOLE_DIR");
                return (
                    StatusCode::NOT_FOUND,
                    format!(
                        "{} could not be read from OMNITRAFFICK_CONSOLE_DIR: {e}",
                        asset.name
                    ),
                )
                    .into_response();
            }
        },
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary; the browser asks again (cheap: three small files).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
