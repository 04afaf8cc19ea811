//! Building the application from configuration, shared by `main` and the tests.

use std::time::Duration;

use crate::deploy::{DeployService, DeploySettings};
use crate::error::AppResult;
use crate::governance::Governance;
use crate::jobs::{JobQueue, Workers};
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
    /// Changes to live campaigns: the risk gate, confirmation, review and application.
    pub changes: crate::changes::ChangeService,
    /// Read-back: metrics and delivery sync, insights and pacing.
    pub insights: crate::insights::InsightsService,
    /// Live governance: taxonomy, foreign campaigns and drift in the ad accounts.
    pub audit: crate::insights::audit::AuditService,
    /// Lookups: ad accounts, pages, pixels, interest and location search, reach estimates.
    pub lookups: crate::assets::lookups::LookupService,
    /// Creative assets: the registry and uploads to the platforms.
    pub assets: crate::assets::AssetService,
    /// Resource-update notifications for subscribed tickets.
    pub watch: crate::mcp::subscriptions::TicketWatch,
    /// The job queue the workers take deploys, deliveries and events from.
    pub jobs: JobQueue,
    /// How often workers look for work whose worker died or whose job went missing.
    sweep_every: Duration,
}

impl AppServices {
    /// Run this process's workers (deploys, conversion deliveries, and self-healing of
    /// failed deploys) until `stop` is cancelled, in-flight work finishing first.
    pub async fn run_workers(&self, stop: tokio_util::sync::CancellationToken) -> AppResult<()> {
        let name = crate::jobs::worker_name();
        let mut workers = Workers::new(self.jobs.clone(), &name);
        self.deploy.register_jobs(&mut workers, &name);
        crate::capi::jobs::register(&self.capi, &mut workers, self.sweep_every);
        self.healing.register_jobs(&mut workers, self.sweep_every);
        self.changes.register_jobs(&mut workers);
        self.insights.register_jobs(&mut workers);
        workers.run(stop).await
    }
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
    /// How often and how far back metrics are read.
    pub insights: crate::insights::InsightsSettings,
    /// How long lookup answers are cached.
    pub lookups: crate::assets::lookups::LookupSettings,
    /// How creative uploads wait for processing and retry.
    pub assets: crate::assets::AssetSettings,
    /// Open the PostgreSQL pool's connections at start and keep them open (`serve`).
    pub keep_connections_open: bool,
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
            insights: crate::insights::InsightsSettings::default(),
            lookups: crate::assets::lookups::LookupSettings::default(),
            assets: crate::assets::AssetSettings::default(),
            keep_connections_open: false,
        }
    }
}

/// Connect to the database, apply migrations and build the services (default options).
pub async fn open(database_url: &str) -> AppResult<(Db, AppServices)> {
    open_with(database_url, AppOptions::default()).await
}

/// As [`open`], with the given options.
pub async fn open_with(database_url: &str, options: AppOptions) -> AppResult<(Db, AppServices)> {
    let db = Db::connect_with(database_url, options.keep_connections_open).await?;
    db.migrate().await?;
    let jobs = JobQueue::open(database_url, &db, options.deploy.queue_settings()).await?;
    let sweep_every = options.deploy.sweep_every;
    let governance = Governance::new(db.clone()).await?;
    let qa = QaService::new(governance.clone(), options.versions.clone());
    let clients = PlatformClients::new(options.platforms)?;
    let assets = crate::assets::AssetService::new(db.clone(), clients.clone(), options.assets);
    let capi = crate::capi::CapiService::new(
        governance.clone(),
        clients.clone(),
        jobs.clone(),
        options.capi_retention,
    );
    let deploy = DeployService::new(
        governance.clone(),
        qa.clone(),
        clients.clone(),
        options.versions.clone(),
        jobs.clone(),
        options.deploy.clone(),
    )
    .with_assets(assets.clone());
    let audit = crate::insights::audit::AuditService::new(
        governance.clone(),
        clients.clone(),
        options.versions.clone(),
    );
    let lookups = crate::assets::lookups::LookupService::new(
        governance.clone(),
        clients.clone(),
        qa.clone(),
        options.versions.clone(),
        options.lookups,
    );
    let changes = crate::changes::ChangeService::new(
        governance.clone(),
        qa.clone(),
        clients.clone(),
        options.versions,
        jobs.clone(),
        options.deploy,
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
    let insights = crate::insights::InsightsService::new(
        governance.clone(),
        clients,
        jobs.clone(),
        options.insights,
        Some(copilot.clone()),
    );
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
            changes,
            insights,
            audit,
            lookups,
            assets,
            watch,
            jobs,
            sweep_every,
        },
    ))
}
