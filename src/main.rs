use anyhow::Context;
use clap::Parser;
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Role};
use omnitraffick::config::{Cli, Command, KeysCommand, LogFormat, ServeArgs};
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::mcp::OmniMcp;
use omnitraffick::{startup, store};

fn init_tracing(cli: &Cli) {
    // Logs always go to stderr: stdout carries the MCP stdio protocol.
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli);
    match &cli.command {
        Command::Migrate => {
            startup::open_with(&cli.database_url, cli.app_options()).await?;
            eprintln!("migrations applied");
        }
        Command::Keys(cmd) => keys(&cli, cmd).await?,
        Command::Serve(args) => serve(&cli, args).await?,
        Command::Worker => worker(&cli).await?,
    }
    Ok(())
}

async fn keys(cli: &Cli, cmd: &KeysCommand) -> anyhow::Result<()> {
    let (db, _) = startup::open_with(&cli.database_url, cli.app_options()).await?;
    match cmd {
        KeysCommand::Create { role, name } => {
            let role = Role::parse(role)?;
            let (key, id) = auth::create_key(&db, name, role).await?;
            println!(
                "Created {} key #{id} \"{}\". Store it now: it is shown only once.",
                role.as_str(),
                name.trim()
            );
            println!("{key}");
        }
        KeysCommand::List => {
            let mut conn = db.pool().acquire().await?;
            let keys = store::list_keys(&mut conn).await?;
            if keys.is_empty() {
                println!(
                    "no keys yet; create one with `omnitraffick keys create --role admin --name NAME`"
                );
            }
            for k in keys {
                println!(
                    "#{:<4} {:<11} {:<24} {}…  created {}{}",
                    k.id,
                    k.role,
                    k.name,
                    k.key_prefix,
                    k.created_at,
                    if k.revoked { "  REVOKED" } else { "" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let mut conn = db.pool().acquire().await?;
            if store::revoke_key(&mut conn, *id).await? {
                println!("key #{id} revoked");
            } else {
                anyhow::bail!("no live key #{id}; `omnitraffick keys list` shows the ids");
            }
        }
    }
    db.close().await;
    Ok(())
}

async fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let (db, services) = startup::open_with(&cli.database_url, cli.app_options())
        .await
        .context("starting up")?;
    let shutdown = CancellationToken::new();
    let workers = if args.no_worker {
        tracing::info!("no deploy worker in this process (--no-worker); run `omnitraffick worker`");
        None
    } else {
        let deploy = services.deploy.clone();
        let stop = shutdown.clone();
        Some(tokio::spawn(async move { deploy.run_workers(stop).await }))
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
    let opts = HttpOptions {
        bind: args.bind,
        no_auth: args.no_auth,
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
        max_body_bytes: args.max_body_bytes,
    };
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
    services: &omnitraffick::mcp::AppServices,
) {
    shutdown.cancel();
    if let Some(w) = workers {
        match w.await {
            Ok(Err(e)) => tracing::error!(error = %e, "deploy worker stopped with an error"),
            Err(e) => tracing::error!(error = %e, "deploy worker panicked"),
            Ok(Ok(())) => {}
        }
    }
    services.deploy.queue().close().await;
}

/// Deploy workers only, until SIGINT/SIGTERM; in-flight deploys finish first.
async fn worker(cli: &Cli) -> anyhow::Result<()> {
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
    services.deploy.run_workers(shutdown).await?;
    services.deploy.queue().close().await;
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
