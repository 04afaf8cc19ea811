//! `omnitraffick upload`: one creative to one channel, with a progress spinner that follows
//! the upload and a video's processing.

use anyhow::Context;

use omnitraffick::assets::media::MAX_VIDEO_BYTES;
use omnitraffick::assets::{Progress, UploadRequest};
use omnitraffick::config::{Cli, UploadArgs};
use omnitraffick::startup;

pub async fn run(cli: &Cli, args: &UploadArgs) -> anyhow::Result<()> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not a regular file", args.file.display());
    }
    if meta.len() > MAX_VIDEO_BYTES as u64 {
        anyhow::bail!(
            "{} is {} bytes; the largest file accepted is {MAX_VIDEO_BYTES} bytes (500 MB videos, 30 MB images)",
            args.file.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());
    let (db, services) = startup::open_with(&cli.database_url, cli.app_options())
        .await
        .context("starting up")?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(format!("{file_name}: checking"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let work = services.assets.upload(
        "local-operator",
        UploadRequest {
            brand_code: args.brand.clone(),
            channel_code: args.channel.clone(),
            file_name: file_name.clone(),
            bytes,
        },
        Some(tx),
    );
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            Some(p) = rx.recv() => {
                if bar.is_hidden() {
                    eprintln!("{file_name}: {}", p.message);
                }
                bar.set_message(format!("{file_name}: {}", p.message));
            }
        }
    };
    bar.finish_and_clear();
    services.jobs.close().await;
    db.close().await;
    let out = result?;
    eprintln!(
        "{} {} ({} bytes, {}{}) on {}: {} as {}",
        if out.already_registered {
            "= already registered:"
        } else {
            "+ registered:"
        },
        out.asset.file_name,
        out.asset.byte_size,
        out.asset.format,
        match (out.asset.width, out.asset.height) {
            (Some(w), Some(h)) => format!(", {w}x{h}"),
            _ => String::new(),
        },
        out.channel_code,
        out.status,
        out.platform_id.as_deref().unwrap_or("-"),
    );
    // The asset id alone on the last line, for scripts.
    println!("{}", out.asset.asset_id);
    Ok(())
}
