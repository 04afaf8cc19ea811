//! `omnitraffick ingest`: guideline PDFs from files and folders, or the bundled samples.

use anyhow::Context;

use omnitraffick::config::{Cli, IngestArgs};
use omnitraffick::startup;

/// `omnitraffick ingest`: PDFs (or folders of them) for one brand, or the bundled samples,
/// with a progress bar, a line per file and a summary. Exits non-zero if any file failed.
pub async fn run(cli: &Cli, args: &IngestArgs) -> anyhow::Result<()> {
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
    services.jobs.close().await;
    db.close().await;
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be ingested; see the lines marked !");
    }
    Ok(())
}
