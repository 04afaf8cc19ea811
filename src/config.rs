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

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn api_versions(&self) -> crate::platforms::ApiVersions {
        crate::platforms::ApiVersions {
            meta: self.meta_api_version.clone(),
            google_ads: self.google_ads_api_version.clone(),
            ..Default::default()
        }
    }
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

    /// Largest accepted request body in bytes; bigger ones get 413.
    #[arg(long, env = "OMNITRAFFICK_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
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
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id; it stops working within 30 seconds.
    Revoke { id: i64 },
}
