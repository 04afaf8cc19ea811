//! Command line and environment configuration. Every flag can also be set through the
//! environment variable named in `--help`.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "omnitraffick",
    version,
    about = "Ad-operations server: governed campaign trafficking for Meta, TikTok and Google Ads over MCP and REST",
    long_about = "OmniTraffick holds governance data (markets, brands, channels, campaigns, tickets), names \
                  every campaign by a strict taxonomy and serves it all to LLM assistants over MCP.\n\n\
                  Quick start:\n  omnitraffick keys create --role admin --name me\n  omnitraffick serve\n\n\
                  The embedded default keeps everything in one SQLite file (omnitraffick.db); point \
                  DATABASE_URL at postgres://... to run at scale."
)]
pub struct Cli {
    /// Database: a SQLite file path (created if missing), sqlite://PATH, or postgres://USER:PASS@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "omnitraffick.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Log format on stderr.
    #[arg(long, env = "OMNITRAFFICK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    /// Log filter, e.g. "info" or "omnitraffick=debug,info".
    #[arg(long, env = "OMNITRAFFICK_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Meta Graph API version the payloads target.
    #[arg(
        long,
        env = "OMNITRAFFICK_META_API_VERSION",
        default_value = "v25.0",
        global = true
    )]
    pub meta_api_version: String,

    /// Google Ads API version the payloads target.
    #[arg(
        long,
        env = "OMNITRAFFICK_GOOGLE_ADS_API_VERSION",
        default_value = "v25",
        global = true
    )]
    pub google_ads_api_version: String,

    #[command(flatten)]
    pub platforms: PlatformArgs,

    #[command(flatten)]
    pub deploy: DeployArgs,

    #[command(flatten)]
    pub llm: LlmArgs,

    #[command(flatten)]
    pub capi: CapiArgs,

    #[command(flatten)]
    pub insights: InsightsArgs,

    #[command(flatten)]
    pub lookups: LookupArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the ad platforms are. Credentials are never flags (they would show in `ps`): set
/// OMNITRAFFICK_META_ACCESS_TOKEN, OMNITRAFFICK_TIKTOK_ACCESS_TOKEN,
/// OMNITRAFFICK_GOOGLE_ADS_DEVELOPER_TOKEN, OMNITRAFFICK_GOOGLE_ADS_ACCESS_TOKEN and optionally
/// OMNITRAFFICK_GOOGLE_ADS_LOGIN_CUSTOMER_ID, each overridable per channel with a
/// `_<CHANNEL_CODE>` suffix.
#[derive(Debug, clap::Args)]
pub struct PlatformArgs {
    /// Meta Graph API base URL (a sandbox or test server in place of the real one).
    #[arg(
        long,
        env = "OMNITRAFFICK_META_BASE_URL",
        default_value = "https://graph.facebook.com",
        global = true
    )]
    pub meta_base_url: String,

    /// TikTok Marketing API base URL.
    #[arg(
        long,
        env = "OMNITRAFFICK_TIKTOK_BASE_URL",
        default_value = "https://business-api.tiktok.com",
        global = true
    )]
    pub tiktok_base_url: String,

    /// Google Ads REST API base URL.
    #[arg(
        long,
        env = "OMNITRAFFICK_GOOGLE_ADS_BASE_URL",
        default_value = "https://googleads.googleapis.com",
        global = true
    )]
    pub google_ads_base_url: String,

    /// Timeout of one platform request, in milliseconds.
    #[arg(
        long,
        env = "OMNITRAFFICK_PLATFORM_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub platform_timeout_ms: u64,
}

/// The OpenAI-compatible endpoint for the copilot (embeddings and answers). Without
/// OPENAI_BASE_URL or OPENAI_API_KEY none is used: retrieval is lexical and answers are
/// extractive. The key is read from OPENAI_API_KEY only (never a flag).
#[derive(Debug, clap::Args)]
pub struct LlmArgs {
    /// Base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1 or http://localhost:11434/v1.
    #[arg(long, env = "OPENAI_BASE_URL", global = true)]
    pub openai_base_url: Option<String>,

    /// Embedding model; empty disables dense retrieval.
    #[arg(
        long,
        env = "OMNITRAFFICK_EMBEDDING_MODEL",
        default_value = "text-embedding-3-small",
        global = true
    )]
    pub embedding_model: String,

    /// Chat model for grounded answers and ticket reviews; empty means extractive answers.
    #[arg(
        long,
        env = "OMNITRAFFICK_CHAT_MODEL",
        default_value = "gpt-4o-mini",
        global = true
    )]
    pub chat_model: String,

    /// Timeout of one model request, in milliseconds.
    #[arg(
        long,
        env = "OMNITRAFFICK_LLM_TIMEOUT_MS",
        default_value_t = 60_000,
        global = true
    )]
    pub llm_timeout_ms: u64,

    /// Qdrant REST URL (e.g. http://localhost:6333) to keep guideline vectors in; without it
    /// the embedded index is used. The key, if any, comes from QDRANT_API_KEY.
    #[arg(long, env = "QDRANT_URL", global = true)]
    pub qdrant_url: Option<String>,

    /// Qdrant collection for guideline chunks.
    #[arg(
        long,
        env = "OMNITRAFFICK_QDRANT_COLLECTION",
        default_value = "omnitraffick_guidelines",
        global = true
    )]
    pub qdrant_collection: String,

    /// Largest PDF accepted for ingestion, in bytes.
    #[arg(long, env = "OMNITRAFFICK_MAX_PDF_BYTES", default_value_t = 25 * 1024 * 1024, global = true)]
    pub max_pdf_bytes: usize,

    /// Longest time spent reading one PDF, in seconds.
    #[arg(
        long,
        env = "OMNITRAFFICK_PDF_TIME_LIMIT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub pdf_time_limit_secs: u64,
}

/// How long the Conversions API relay keeps what it received. Workers delete older data in
/// their sweep.
#[derive(Debug, clap::Args)]
pub struct CapiArgs {
    /// Hours a conversion event's dedupe key is kept; at least 48, the dedupe window.
    #[arg(
        long,
        env = "OMNITRAFFICK_CAPI_DEDUPE_RETENTION_HOURS",
        default_value_t = 48,
        global = true
    )]
    pub capi_dedupe_retention_hours: u64,

    /// Days a sent or failed conversion event (which holds the client IP and user agent) is
    /// kept; queued events are kept until they are sent or fail.
    #[arg(
        long,
        env = "OMNITRAFFICK_CAPI_EVENT_RETENTION_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub capi_event_retention_days: u64,
}

/// Read-back of metrics and delivery from the platforms.
#[derive(Debug, clap::Args)]
pub struct InsightsArgs {
    /// Minutes between scheduled syncs of every live, paused or recently ended ticket's
    /// metrics and delivery state (sync_insights syncs on demand).
    #[arg(
        long,
        env = "OMNITRAFFICK_INSIGHTS_SYNC_MINUTES",
        default_value_t = 60,
        global = true
    )]
    pub insights_sync_minutes: u64,

    /// Days back a sync reads; older days keep the figures last read.
    #[arg(
        long,
        env = "OMNITRAFFICK_INSIGHTS_LOOKBACK_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub insights_lookback_days: i64,
}

/// Lookups (ad accounts, pages, pixels, interest and location search, reach estimates).
#[derive(Debug, clap::Args)]
pub struct LookupArgs {
    /// Seconds a lookup answer is served from the store before the platform is asked again
    /// (0: never cached).
    #[arg(
        long,
        env = "OMNITRAFFICK_LOOKUP_CACHE_SECS",
        default_value_t = 600,
        global = true
    )]
    pub lookup_cache_secs: u64,
}

/// Deploy retries and workers.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Times a deploy is tried before it fails for good on rate limits and transient errors.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_MAX_ATTEMPTS",
        default_value_t = 8,
        global = true
    )]
    pub deploy_max_attempts: i64,

    /// First retry back-off in milliseconds; doubles each time (with jitter) up to --deploy-backoff-max-ms.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_BACKOFF_BASE_MS",
        default_value_t = 2_000,
        global = true
    )]
    pub deploy_backoff_base_ms: u64,

    /// Longest back-off between retries, in milliseconds.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_BACKOFF_MAX_MS",
        default_value_t = 300_000,
        global = true
    )]
    pub deploy_backoff_max_ms: u64,

    /// A retry due within this many milliseconds is made by the same worker, which keeps the deploy meanwhile; a longer wait (a platform's Retry-After, a long back-off) hands it back to the queue and frees the worker. 0 sends every retry through the queue.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_RETRY_IN_PLACE_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub deploy_retry_in_place_ms: u64,

    /// Seconds a worker owns a deploy without renewing it; a crashed worker's deploy is taken over after this.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_LEASE_SECS",
        default_value_t = 60,
        global = true
    )]
    pub deploy_lease_secs: u64,

    /// How often an idle worker polls the queue, in milliseconds.
    #[arg(
        long,
        env = "OMNITRAFFICK_DEPLOY_POLL_MS",
        default_value_t = 500,
        global = true
    )]
    pub deploy_poll_ms: u64,

    /// Self-healing policy: "none" (every proposal waits for a person) or "safe" (SAFE fixes
    /// that pass QA are applied and re-deployed at once; spend and reach changes always wait).
    #[arg(long, env = "OMNITRAFFICK_HEALING_AUTO_APPLY", value_enum, default_value_t = AutoApplyArg::None, global = true)]
    pub healing_auto_apply: AutoApplyArg,

    /// Deploys one worker process runs at once.
    #[arg(
        long,
        env = "OMNITRAFFICK_WORKER_CONCURRENCY",
        default_value_t = 8,
        global = true
    )]
    pub worker_concurrency: usize,
}

impl Cli {
    /// Platform endpoints, with credentials taken from the environment.
    pub fn platform_config(&self) -> crate::platforms::client::PlatformConfig {
        crate::platforms::client::PlatformConfig::new(
            &self.platforms.meta_base_url,
            &self.platforms.tiktok_base_url,
            &self.platforms.google_ads_base_url,
            &self.meta_api_version,
            std::time::Duration::from_millis(self.platforms.platform_timeout_ms.max(100)),
        )
        .with_credentials_from(std::env::vars())
    }

    pub fn deploy_settings(&self) -> crate::deploy::DeploySettings {
        use std::time::Duration;
        let d = &self.deploy;
        crate::deploy::DeploySettings {
            max_attempts: d.deploy_max_attempts.max(1),
            backoff_base: Duration::from_millis(d.deploy_backoff_base_ms.max(1)),
            backoff_max: Duration::from_millis(
                d.deploy_backoff_max_ms.max(d.deploy_backoff_base_ms),
            ),
            retry_in_place_max: Duration::from_millis(d.deploy_retry_in_place_ms),
            lease: Duration::from_secs(d.deploy_lease_secs.max(1)),
            poll_every: Duration::from_millis(d.deploy_poll_ms.max(10)),
            concurrency: d.worker_concurrency.max(1),
            ..Default::default()
        }
    }

    /// The model endpoint, when one is configured.
    pub fn llm_config(&self) -> Option<crate::llm::LlmConfig> {
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty());
        let base = self
            .llm
            .openai_base_url
            .clone()
            .filter(|b| !b.trim().is_empty());
        if key.is_none() && base.is_none() {
            return None;
        }
        let model = |m: &str| (!m.trim().is_empty()).then(|| m.trim().to_owned());
        Some(crate::llm::LlmConfig {
            base_url: base.unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: crate::platforms::client::Secret::new(key.unwrap_or_default()),
            embedding_model: model(&self.llm.embedding_model),
            chat_model: model(&self.llm.chat_model),
        })
    }

    pub fn app_options(&self) -> crate::startup::AppOptions {
        crate::startup::AppOptions {
            versions: self.api_versions(),
            platforms: self.platform_config(),
            deploy: self.deploy_settings(),
            llm: self.llm_config(),
            llm_timeout: std::time::Duration::from_millis(self.llm.llm_timeout_ms.max(100)),
            copilot: crate::copilot::CopilotSettings {
                max_pdf_bytes: self.llm.max_pdf_bytes,
                pdf_time_limit: std::time::Duration::from_secs(self.llm.pdf_time_limit_secs.max(1)),
                ..Default::default()
            },
            qdrant: self
                .llm
                .qdrant_url
                .clone()
                .filter(|u| !u.trim().is_empty())
                .map(|u| {
                    let key = std::env::var("QDRANT_API_KEY")
                        .ok()
                        .filter(|k| !k.trim().is_empty())
                        .map(crate::platforms::client::Secret::new);
                    (u, key, self.llm.qdrant_collection.clone())
                }),
            auto_apply: match self.deploy.healing_auto_apply {
                AutoApplyArg::None => crate::healing::AutoApply::None,
                AutoApplyArg::Safe => crate::healing::AutoApply::Safe,
            },
            capi_retention: crate::capi::CapiRetention {
                dedupe_keys: std::time::Duration::from_secs(
                    self.capi.capi_dedupe_retention_hours.max(48) * 3600,
                ),
                finished_events: std::time::Duration::from_secs(
                    self.capi.capi_event_retention_days.max(1) * 24 * 3600,
                ),
            },
            insights: crate::insights::InsightsSettings {
                every: std::time::Duration::from_secs(
                    self.insights.insights_sync_minutes.max(1) * 60,
                ),
                lookback_days: self.insights.insights_lookback_days.clamp(1, 3650),
                ..Default::default()
            },
            lookups: crate::assets::lookups::LookupSettings {
                cache_ttl: std::time::Duration::from_secs(self.lookups.lookup_cache_secs),
            },
            assets: crate::assets::AssetSettings::default(),
            // Only `serve` keeps a pool open.
            keep_connections_open: false,
        }
    }

    pub fn api_versions(&self) -> crate::platforms::ApiVersions {
        crate::platforms::ApiVersions {
            meta: self.meta_api_version.clone(),
            google_ads: self.google_ads_api_version.clone(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AutoApplyArg {
    None,
    Safe,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: MCP over Streamable HTTP at /mcp plus /healthz and /readyz, or MCP over stdio.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit (serve also applies them on start).
    Migrate,
    /// Run deploy workers only (no HTTP): several processes can share one PostgreSQL queue.
    Worker,
    /// Ingest brand-guideline PDFs (files or folders of *.pdf) for the copilot.
    Ingest(IngestArgs),
    /// Upload a creative (image or video) to a channel's ad platform and register it for a brand.
    #[command(
        long_about = "Upload an image or video to a channel's ad platform (Meta adimages/advideos, TikTok file/image|video/ad/upload, Google Ads image assets) and register it for the brand.\n\nThe file is checked against the platform's rules first (format, size, minimum pixels, aspect ratio, duration) and refused with the rule before anything is sent. The same bytes for the same brand are one asset: uploading them again sends nothing. A video is waited for until the platform has processed it. The asset id printed at the end goes into a ticket's payload_config.creative.image_asset_ids or video_asset_id.\n\nImages up to 30 MB, videos up to 500 MB. Platform credentials come from the same variables as deploys (e.g. OMNITRAFFICK_META_ACCESS_TOKEN or OMNITRAFFICK_META_ACCESS_TOKEN_<CHANNEL>)."
    )]
    Upload(UploadArgs),
    /// Manage bearer API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Serve MCP over stdin/stdout as the local operator (for Claude Desktop and similar).
    #[arg(long)]
    pub stdio: bool,

    /// Address to listen on for HTTP.
    #[arg(long, env = "OMNITRAFFICK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Accept requests without a bearer key, as the local operator. Refused unless --bind is a loopback address.
    #[arg(long, env = "OMNITRAFFICK_NO_AUTH")]
    pub no_auth: bool,

    /// Host names clients may use to reach the server (DNS-rebinding protection). Loopback names are always allowed.
    #[arg(
        long = "allowed-host",
        env = "OMNITRAFFICK_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// Browser origins allowed to call /mcp, e.g. https://app.example.com:443. Requests with any other Origin get 403.
    #[arg(
        long = "allowed-origin",
        env = "OMNITRAFFICK_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Do not run a deploy worker in this process (run `omnitraffick worker` elsewhere).
    #[arg(long, env = "OMNITRAFFICK_NO_WORKER")]
    pub no_worker: bool,

    /// Largest accepted request body in bytes; bigger ones get 413.
    #[arg(long, env = "OMNITRAFFICK_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Seconds a client may take to send a request's headers; an idle keep-alive connection is
    /// closed after the same time.
    #[arg(
        long,
        env = "OMNITRAFFICK_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub header_read_timeout_secs: u64,

    /// Seconds a REST or probe request may take (and an MCP request body may take to arrive);
    /// MCP responses and event streams are not cut.
    #[arg(long, env = "OMNITRAFFICK_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,

    /// Open MCP sessions one key may hold; one more `initialize` gets 429.
    #[arg(long, env = "OMNITRAFFICK_MAX_SESSIONS_PER_KEY", default_value_t = 64)]
    pub max_sessions_per_key: usize,

    /// Open MCP sessions in all; one more `initialize` gets 503.
    #[arg(long, env = "OMNITRAFFICK_MAX_SESSIONS", default_value_t = 1024)]
    pub max_sessions: usize,

    /// Seconds without traffic after which an MCP session is closed.
    #[arg(long, env = "OMNITRAFFICK_SESSION_IDLE_SECS", default_value_t = 300)]
    pub session_idle_secs: u64,
}

impl ServeArgs {
    /// The HTTP edge settings (timeouts at least a second, limits at least one).
    pub fn http_options(&self) -> crate::http::HttpOptions {
        use std::time::Duration;
        crate::http::HttpOptions {
            bind: self.bind,
            no_auth: self.no_auth,
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_origins: self.allowed_origins.clone(),
            max_body_bytes: self.max_body_bytes,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_sessions_per_key: self.max_sessions_per_key.max(1),
            max_sessions: self.max_sessions.max(1),
            session_idle: Duration::from_secs(self.session_idle_secs.max(1)),
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  omnitraffick ingest guidelines/ --brand AUR\n  omnitraffick ingest --samples      # the three bundled sample brands and their guidelines"
)]
pub struct IngestArgs {
    /// PDF files or folders (every *.pdf inside, not recursive).
    pub paths: Vec<std::path::PathBuf>,

    /// Brand code the guidelines belong to, e.g. AUR.
    #[arg(long)]
    pub brand: Option<String>,

    /// Create the bundled sample brands (AUR, NWS, LUM) if missing and ingest their guidelines.
    #[arg(long)]
    pub samples: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  omnitraffick upload --brand DIS --channel META_US moana-1080x1080.png\n  omnitraffick upload --brand DIS --channel TIKTOK_US moana-9x16.mp4"
)]
pub struct UploadArgs {
    /// Brand code the asset belongs to, e.g. DIS.
    #[arg(long)]
    pub brand: String,

    /// Channel code whose platform receives it, e.g. META_US.
    #[arg(long)]
    pub channel: String,

    /// The image (JPEG, PNG, GIF, WebP) or video (MP4, MOV, ...) to upload.
    pub file: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once, on the last line of output.
    Create {
        /// admin, trafficker, planner, ops, viewer or tracker.
        #[arg(long)]
        role: String,
        /// A name that says who uses the key, e.g. "claude-desktop-anna".
        #[arg(long)]
        name: String,
        /// Limit the key to these brand codes (comma-separated), e.g. a tracker key for one
        /// site: --brands AUR. Default: every brand.
        #[arg(long, value_delimiter = ',')]
        brands: Vec<String>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id; it stops working within 30 seconds.
    Revoke { id: i64 },
}
