//! OmniTraffick: an ad-operations server. See DESIGN.md for the architecture.

pub mod assets;
pub mod auth;
pub mod capi;
pub mod changes;
pub mod config;
pub mod copilot;
pub mod deploy;
pub mod domain;
pub mod error;
pub mod governance;
pub mod healing;
pub mod http;
pub mod insights;
pub mod jobs;
pub mod llm;
pub mod mcp;
pub mod platforms;
pub mod qa;
pub mod startup;
pub mod store;
pub mod taxonomy;
pub mod telemetry;
pub mod tickets;
