//! `omnitraffick`: parse the command line, set up logging, run the command (src/commands/),
//! and report a failure as one line.

mod commands;

use clap::Parser;
use std::process::ExitCode;

use omnitraffick::config::{Cli, Command};
use omnitraffick::error::AppError;
use omnitraffick::startup;

/// mimalloc rather than the system allocator: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    omnitraffick::telemetry::init_tracing(&cli.log, cli.log_format);
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line that says what to fix. Returning the error from main would print its
            // Debug form, which carries a backtrace whenever RUST_BACKTRACE is set.
            eprintln!("error: {e:#}");
            let bad_setting = e
                .chain()
                .any(|c| matches!(c.downcast_ref(), Some(AppError::Validation { .. })));
            ExitCode::from(if bad_setting { 2 } else { 1 })
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Migrate => {
            startup::open_with(&cli.database_url, cli.app_options()).await?;
            eprintln!("migrations applied");
        }
        Command::Keys(cmd) => commands::keys::run(cli, cmd).await?,
        Command::Serve(args) => commands::serve(cli, args).await?,
        Command::Worker => commands::worker(cli).await?,
        Command::Ingest(args) => commands::ingest::run(cli, args).await?,
        Command::Upload(args) => commands::upload::run(cli, args).await?,
    }
    Ok(())
}
