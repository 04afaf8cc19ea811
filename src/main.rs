use anyhow::Context;
use clap::Parser;
use rmcp::ServiceExt;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Role};
use omnitraffick::config::{Cli, Command, IngestArgs, KeysCommand, ServeArgs};
use omnitraffick::error::AppError;
use omnitraffick::http;
use omnitraffick::mcp::OmniMcp;
use omnitraffick::{startup, store};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    startup::init_tracing(&cli.log, cli.log_format);
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
        Command::Keys(cmd) => keys(cli, cmd).await?,
        Command::Serve(args) => serve(cli, args).await?,
        Command::Worker => worker(cli).await?,
        Command::Ingest(args) => ingest(cli, args).await?,
    }
    Ok(())
}

async fn keys(cli: &Cli, cmd: &KeysCommand) -> anyhow::Result<()> {
    let (db, _) = startup::open_with(&cli.database_url, cli.app_options()).await?;
    match cmd {
        KeysCommand::Create { role, name, brands } => {
            let role = Role::parse(role)?;
            let scope = (!brands.is_empty()).then(|| brands.clone());
            let (key, id) = auth::create_scoped_key(&db, name, role, scope).await?;
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
                let scope = match auth::parse_brand_scope(k.brand_scope.as_deref()) {
                    Ok(None) => "all brands".to_owned(),
                    Ok(Some(codes)) => format!("brands {}", codes.join(",")),
                    Err(_) => "UNREADABLE SCOPE (key disabled)".to_owned(),
                };
                println!(
                    "#{:<4} {:<11} {:<24} {}…  {:<20} created {}{}",
                    k.id,
                    k.role,
                    k.name,
                    k.key_prefix,
                    scope,
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
    let opts = args.http_options();
    if !args.stdio {
        // Refuse an unsafe setting before anything is opened, started or logged.
        opts.check()?;
    }
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

/// `omnitraffick ingest`: PDFs (or folders of them) for one brand, or the bundled samples,
/// with a progress bar, a line per file and a summary. Exits non-zero if any file failed.
async fn ingest(cli: &Cli, args: &IngestArgs) -> anyhow::Result<()> {
    use omnitraffick::copilot::SAMPLES;
    let (db, services) = startup::open_with(&cli.database_url, cli.app_options())
        .await
        .context("starting up")?;
    let copilot = &services.copilot;
    // (brand, display name, bytes or a read error)
    let mut jobs: Vec<(String, String, Result<Vec<u8>, String>)> = Vec::new();
    if args.samples {
        let created = copilot.ensure_sample_brands().await?;
        if !created.is_empty() {
            eprintln!("created sample brands: {}", created.join(", "));
        }
        for s in SAMPLES {
            jobs.push((
                s.brand_code.into(),
                s.file_name.into(),
                Ok(s.bytes.to_vec()),
            ));
        }
    }
    if !args.paths.is_empty() {
        let Some(brand) = &args.brand else {
            anyhow::bail!(
                "say which brand the files belong to with --brand CODE (list_brands shows the codes)"
            );
        };
        for p in &args.paths {
            let files: Vec<std::path::PathBuf> = if p.is_dir() {
                let mut v: Vec<_> = std::fs::read_dir(p)
                    .with_context(|| format!("reading folder {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")))
                    .collect();
                v.sort();
                v
            } else {
                vec![p.clone()]
            };
            for f in files {
                let bytes = std::fs::read(&f).map_err(|e| format!("cannot read it: {e}"));
                jobs.push((brand.clone(), f.display().to_string(), bytes));
            }
        }
    }
    if jobs.is_empty() {
        anyhow::bail!(
            "nothing to ingest: give PDF files or folders with --brand CODE, or --samples"
        );
    }
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Without a terminal the bar is hidden and so are its println lines: print directly.
    let say = |line: String| {
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let (mut ok, mut unchanged, mut failed) = (0, 0, 0);
    for (brand, name, bytes) in jobs {
        bar.set_message(name.clone());
        let result = match bytes {
            Ok(b) => copilot
                .ingest(&brand, &name, b)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(o) if o.status == "UNCHANGED" => {
                unchanged += 1;
                say(format!(
                    "= {name} [{brand}]: unchanged (identical bytes already ingested)"
                ));
            }
            Ok(o) => {
                ok += 1;
                say(format!(
                    "+ {name} [{brand}]: {} ({} pages, {} chunks{}) as {}",
                    o.status.to_lowercase(),
                    o.document.pages,
                    o.document.chunks,
                    if o.embedded {
                        ", embedded"
                    } else {
                        ", lexical only"
                    },
                    o.document.uri
                ));
            }
            Err(e) => {
                failed += 1;
                say(format!("! {name} [{brand}]: {e}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!("{ok} ingested, {unchanged} unchanged, {failed} failed");
    services.deploy.queue().close().await;
    db.close().await;
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be ingested; see the lines marked !");
    }
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
