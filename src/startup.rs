//! Building the application from configuration, shared by `main` and the tests.

use std::time::Duration;

use crate::deploy::{DeployQueue, DeployService, DeploySettings};
use crate::error::AppResult;
use crate::governance::Governance;
use crate::platforms::ApiVersions;
use crate::platforms::client::{PlatformClients, PlatformConfig};
use crate::qa::QaService;
use crate::store::Db;

/// Everything a tool needs, shared by every session.
#[derive(Clone)]
pub struct AppServices {
    pub governance: crate::governance::Governance,
    pub qa: crate::qa::QaService,
    pub deploy: crate::deploy::DeployService,
    pub copilot: crate::copilot::CopilotService,
    pub healing: crate::healing::HealingService,
    pub capi: crate::capi::CapiService,
    /// Resource-update notifications for subscribed tickets.
    pub watch: crate::mcp::subscriptions::TicketWatch,
}

/// Everything configurable about the services.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub versions: ApiVersions,
    pub platforms: PlatformConfig,
    pub deploy: DeploySettings,
    /// The OpenAI-compatible endpoint; `None` for lexical retrieval and extractive answers.
    pub llm: Option<crate::llm::LlmConfig>,
    pub llm_timeout: Duration,
    pub copilot: crate::copilot::CopilotSettings,
    /// Qdrant (URL, API key, collection) for retrieval; `None` for the embedded index.
    pub qdrant: Option<(String, Option<crate::platforms::client::Secret>, String)>,
    pub auto_apply: crate::healing::AutoApply,
    /// How long conversion events and dedupe keys are kept.
    pub capi_retention: crate::capi::CapiRetention,
}

impl Default for AppOptions {
    /// The real platform endpoints with no credentials, and default retry settings.
    fn default() -> Self {
        let versions = ApiVersions::default();
        Self {
            platforms: PlatformConfig::new(
                "https://graph.facebook.com",
                "https://business-api.tiktok.com",
                "https://googleads.googleapis.com",
                &versions.meta,
                Duration::from_secs(30),
            ),
            versions,
            deploy: DeploySettings::default(),
            llm: None,
            llm_timeout: Duration::from_secs(60),
            copilot: crate::copilot::CopilotSettings::default(),
            qdrant: None,
            auto_apply: crate::healing::AutoApply::None,
            capi_retention: crate::capi::CapiRetention::default(),
        }
    }
}

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

/// Connect to the database, apply migrations and build the services (default options).
pub async fn open(database_url: &str) -> AppResult<(Db, AppServices)> {
    open_with(database_url, AppOptions::default()).await
}

/// As [`open`], with the given options.
pub async fn open_with(database_url: &str, options: AppOptions) -> AppResult<(Db, AppServices)> {
    let db = Db::connect(database_url).await?;
    db.migrate().await?;
    let queue = DeployQueue::open(database_url, &db, options.deploy.clone()).await?;
    let governance = Governance::new(db.clone()).await?;
    let qa = QaService::new(governance.clone(), options.versions.clone());
    let clients = PlatformClients::new(options.platforms)?;
    let deploy = DeployService::new(
        governance.clone(),
        qa.clone(),
        clients,
        options.versions,
        queue,
    );
    let llm = options
        .llm
        .map(|cfg| crate::llm::Llm::new(cfg, options.llm_timeout))
        .transpose()?;
    let copilot = crate::copilot::CopilotService::new(
        governance.clone(),
        llm.clone(),
        options.copilot,
        options.qdrant,
    )
    .await?;
    let healing = crate::healing::HealingService::new(
        governance.clone(),
        qa.clone(),
        deploy.clone(),
        options.auto_apply,
        llm,
    );
    {
        // A deploy that fails for good is handed to self-healing by the worker.
        let h = healing.clone();
        deploy.set_failure_hook(std::sync::Arc::new(move |ticket_id| {
            let h = h.clone();
            Box::pin(async move {
                match h.on_deploy_failed(ticket_id).await {
                    Ok(outcome) => tracing::info!(ticket_id, ?outcome, "self-healing ran"),
                    Err(e) => tracing::error!(ticket_id, error = %e, "self-healing failed"),
                }
            })
        }));
    }
    let capi = crate::capi::CapiService::new(
        governance.clone(),
        deploy.clients().clone(),
        deploy.queue().clone(),
        options.capi_retention,
    );
    deploy.set_capi(capi.clone());
    let watch = crate::mcp::subscriptions::TicketWatch::new(db.clone(), Duration::from_millis(250));
    Ok((
        db,
        AppServices {
            governance,
            qa,
            deploy,
            copilot,
            healing,
            capi,
            watch,
        },
    ))
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
