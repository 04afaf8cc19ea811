//! PDF text per page, off the async runtime, with a size limit, a time limit and a caught
//! panic, and a clear reason for every file that cannot be used.

use std::time::Duration;

/// Why a file could not be ingested; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is {size} bytes, over the {limit}-byte limit; split it or raise --max-pdf-bytes"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("not a PDF (it does not start with %PDF-)")]
    NotPdf,
    #[error("the PDF is encrypted; export an unprotected copy and ingest that")]
    Encrypted,
    #[error("the PDF is malformed and cannot be read: {0}")]
    Malformed(String),
    #[error("the PDF has no pages")]
    NoPages,
    #[error(
        "no extractable text on any page (a scanned or image-only PDF?); run OCR first and ingest the text-layer PDF"
    )]
    NoText,
    #[error("reading the PDF took longer than {0:?}; it was abandoned")]
    Timeout(Duration),
    #[error("the PDF parser crashed on this file ({0}); it was skipped")]
    ParserPanic(String),
}

/// Extract the text of each page (index 0 is page 1).
pub async fn pages(
    bytes: Vec<u8>,
    max_bytes: usize,
    time_limit: Duration,
) -> Result<Vec<String>, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(ExtractError::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(ExtractError::NotPdf);
    }
    let task = tokio::task::spawn_blocking(move || extract_blocking(&bytes));
    match tokio::time::timeout(time_limit, task).await {
        // The blocking thread cannot be killed; it finishes in the background and is ignored.
        Err(_) => Err(ExtractError::Timeout(time_limit)),
        Ok(Err(join)) => Err(ExtractError::ParserPanic(join.to_string())),
        Ok(Ok(r)) => r,
    }
}

fn extract_blocking(bytes: &[u8]) -> Result<Vec<String>, ExtractError> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    }));
    let pages = match result {
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            return Err(ExtractError::ParserPanic(what.chars().take(200).collect()));
        }
        Ok(Err(e)) => {
            let msg = e.to_string();
            let lower = msg.to_ascii_lowercase();
            if lower.contains("encrypt") || lower.contains("decrypt") || lower.contains("password")
            {
                return Err(ExtractError::Encrypted);
            }
            return Err(ExtractError::Malformed(msg.chars().take(200).collect()));
        }
        Ok(Ok(p)) => p,
    };
    if pages.is_empty() {
        // A readable file with no pages is as good as malformed; encrypted files often land
        // here when the parser cannot decode the page tree.
        if bytes.windows(8).any(|w| w == b"/Encrypt") {
            return Err(ExtractError::Encrypted);
        }
        return Err(ExtractError::NoPages);
    }
    if pages.iter().all(|p| p.trim().is_empty()) {
        if bytes.windows(8).any(|w| w == b"/Encrypt") {
            return Err(ExtractError::Encrypted);
        }
        return Err(ExtractError::NoText);
    }
    Ok(pages.into_iter().map(|p| tidy(&p)).collect())
}

/// Collapse runs of spaces and blank lines the extractor leaves behind.
fn tidy(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank = 0;
    for line in page.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            if blank == 1 && !out.is_empty() {
                out.push('\n');
            }
            continue;
        }
        blank = 0;
        out.push_str(&line);
        out.push('\n');
    }
    out.trim().to_owned()
}
