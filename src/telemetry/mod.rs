//! Telemetry: logs (to stderr, with the libraries that would print request contents capped)
//! and the Prometheus metrics served at `/metrics`.

pub mod metrics;

/// Libraries whose debug and trace output carries what passes through them, capped at info
/// whatever `--log` says: rmcp logs every MCP request and response in full (a CAPI event's
/// raw email and phone), h2 and hyper log frames and headers (bearer keys), reqwest and
/// hyper-util connection details, sqlx every statement, async-openai and apalis requests and
/// jobs. `hyper` covers `hyper_util` and `tower` covers `tower_http` (targets match by prefix).
/// The PDF libraries are off: they log every odd file at WARN/ERROR, and ingestion reports
/// those itself.
pub fn log_caps() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::LevelFilter;
    tracing_subscriber::filter::Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets([
            ("rmcp", LevelFilter::INFO),
            ("hyper", LevelFilter::INFO),
            ("h2", LevelFilter::INFO),
            ("reqwest", LevelFilter::INFO),
            ("sqlx", LevelFilter::INFO),
            ("tower", LevelFilter::INFO),
            ("apalis", LevelFilter::INFO),
            ("async_openai", LevelFilter::INFO),
            ("rustls", LevelFilter::INFO),
            ("lopdf", LevelFilter::OFF),
            ("pdf_extract", LevelFilter::OFF),
        ])
}

/// Logging to stderr (stdout carries the MCP stdio protocol): what `filter` (an EnvFilter
/// such as "info" or "omnitraffick=debug,info") allows and [`log_caps`] does not cut.
pub fn init_tracing(filter: &str, format: crate::config::LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let parsed = EnvFilter::try_new(filter);
    let valid = parsed.is_ok();
    let user = parsed.unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // The user's filter applies to the whole subscriber and the caps to the output layer.
    // Combining both into one per-layer filter (`FilterExt::and`) let no DEBUG event through
    // on PostgreSQL, where sqlx registers dynamic callsites for server notices; the exact
    // interaction in tracing-subscriber was not isolated, this arrangement is tested instead.
    let layer = match format {
        crate::config::LogFormat::Json => fmt.json().with_filter(log_caps()).boxed(),
        crate::config::LogFormat::Human => fmt.with_filter(log_caps()).boxed(),
    };
    tracing_subscriber::registry().with(user).with(layer).init();
    if !valid {
        tracing::warn!(
            "the log filter (--log / OMNITRAFFICK_LOG) could not be parsed; logging at info"
        );
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn libraries_that_log_request_contents_stay_at_info() {
        let caps = super::log_caps();
        for target in [
            "rmcp::service",
            "hyper::proto::h1",
            "hyper_util::client::legacy::connect",
            "h2::codec",
            "reqwest::connect",
            "sqlx::query",
            "tower_http::trace",
        ] {
            assert!(!caps.would_enable(target, &Level::DEBUG), "{target}");
            assert!(caps.would_enable(target, &Level::INFO), "{target}");
        }
        assert!(caps.would_enable("omnitraffick::capi", &Level::TRACE));
        assert!(!caps.would_enable("lopdf::reader", &Level::ERROR));
    }
}
