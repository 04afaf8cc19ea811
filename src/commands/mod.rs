//! The binary's commands: serving (stdio or HTTP, with workers), workers alone, keys and
//! ingestion. Each builds the application with `startup` and calls the library's services.

pub mod ingest;
pub mod keys;
pub mod upload;

use anyhow::Context;
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Role};
use omnitraffick::config::{Cli, ServeArgs};
use omnitraffick::http;
use omnitraffick::mcp::OmniMcp;
use omnitraffick::{startup, store};

pub async fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let opts = args.http_options();
    if !args.stdio {
        // Refuse an unsafe setting before anything is opened, started or logged.
        opts.check()?;
    }
    let options = startup::AppOptions {
        keep_connections_open: true,
        ..cli.app_options()
    };
    let (db, services) = startup::open_with(&cli.database_url, options)
        .await
        .context("starting up")?;
    let shutdown = CancellationToken::new();
    let workers = if args.no_worker {
        tracing::info!("no deploy worker in this process (--no-worker); run `omnitraffick worker`");
        None
    } else {
        let app = services.clone();
        let stop = shutdown.clone();
        Some(tokio::spawn(async move { app.run_workers(stop).await }))
    };
    if args.stdio {
        tracing::info!("serving MCP over stdio as the local operator");
        let server = OmniMcp::for_stdio(services.clone())
            .serve(rmcp::transport::stdio())
            .await?;
        let served = server.waiting().await;
        stop_workers(&shutdown, workers, &services).await;
        served?;
        db.close().await;
        return Ok(());
    }
    if !args.no_auth {
        bootstrap_key(&db).await?;
    }
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    let served = http::serve(services.clone(), db.clone(), opts, shutdown.clone()).await;
    stop_workers(&shutdown, workers, &services).await;
    served?;
    db.close().await;
    Ok(())
}

/// Stop this process's deploy workers, letting in-flight deploys finish.
async fn stop_workers(
    shutdown: &CancellationToken,
    workers: Option<tokio::task::JoinHandle<omnitraffick::error::AppResult<()>>>,
    services: &omnitraffick::startup::AppServices,
) {
    shutdown.cancel();
    if let Some(w) = workers {
        match w.await {
            Ok(Err(e)) => tracing::error!(error = %e, "deploy worker stopped with an error"),
            Err(e) => tracing::error!(error = %e, "deploy worker panicked"),
            Ok(Ok(())) => {}
        }
    }
    services.jobs.close().await;
}

/// Deploy workers only, until SIGINT/SIGTERM; in-flight deploys finish first.
pub async fn worker(cli: &Cli) -> anyhow::Result<()> {
    let (db, services) = startup::open_with(&cli.database_url, cli.app_options())
        .await
        .context("starting up")?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight deploys");
        trigger.cancel();
    });
    services.run_workers(shutdown).await?;
    services.jobs.close().await;
    db.close().await;
    Ok(())
}

/// On a brand-new database nobody could connect over HTTP, so the first start creates an
/// admin key and shows it once on the terminal (never in the log).
async fn bootstrap_key(db: &omnitraffick::store::Db) -> anyhow::Result<()> {
    let mut conn = db.pool().acquire().await?;
    if store::count_live_keys(&mut conn).await? > 0 {
        return Ok(());
    }
    drop(conn);
    let (key, id) = auth::create_key(db, "bootstrap-admin", Role::Admin).await?;
    eprintln!(
        "\nNo API keys existed, so an admin key (#{id} \"bootstrap-admin\") was created. It is shown only this once:\n\n    {key}\n\n\
         Use it as `Authorization: Bearer <key>`; create more with `omnitraffick keys create --role ROLE --name NAME`\n\
         and revoke this one with `omnitraffick keys revoke {id}` once you have your own.\n"
    );
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
