//! Split page text into bounded chunks that keep their page number and the heading they sit
//! under, with overlap so a rule cut at a boundary is still found whole in one chunk.

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// 1-based page.
    pub page: usize,
    pub heading: Option<String>,
    pub text: String,
}

/// A line that reads as a section heading: short, no sentence punctuation at the end, and
/// numbered, upper case or title case.
fn is_heading(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() || t.len() > 70 || t.ends_with(['.', ',', ';', ':']) {
        return false;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if words.len() > 9 {
        return false;
    }
    let numbered = words[0]
        .trim_end_matches('.')
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        && words[0].chars().next().is_some_and(|c| c.is_ascii_digit());
    let upper = t
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(|c| c.is_uppercase());
    let title = words
        .iter()
        .filter(|w| w.len() > 3)
        .all(|w| w.chars().next().is_some_and(|c| c.is_uppercase()));
    numbered || upper || (title && words.len() >= 2)
}

/// A page footer such as "Page 3" or "Page 3 of 7".
fn is_footer(line: &str) -> bool {
    let lower = line.trim().to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("page ") else {
        return false;
    };
    rest.split_whitespace()
        .all(|w| w == "of" || w.chars().all(|c| c.is_ascii_digit()))
}

/// Chunks of at most `max_chars` (on word boundaries), each starting with `overlap` chars of
/// the previous chunk of the same page. Chunks never span pages, so every citation is exact.
pub fn chunk_pages(pages: &[String], max_chars: usize, overlap: usize) -> Vec<Chunk> {
    let max_chars = max_chars.max(200);
    let overlap = overlap.min(max_chars / 2);
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    for (i, page) in pages.iter().enumerate() {
        let page_no = i + 1;
        // Paragraph-ish units: headings start a new unit; other lines join.
        let mut units: Vec<(Option<String>, String)> = Vec::new();
        let mut current = String::new();
        for line in page.lines() {
            let line = line.trim();
            if line.is_empty() || is_footer(line) {
                continue;
            }
            if is_heading(line) {
                if !current.is_empty() {
                    units.push((heading.clone(), std::mem::take(&mut current)));
                }
                heading = Some(line.to_owned());
                continue;
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
        if !current.is_empty() {
            units.push((heading.clone(), current));
        }
        // Pack units under the same heading into chunks.
        let mut buf = String::new();
        let mut buf_heading: Option<String> = None;
        let flush = |buf: &mut String, h: &Option<String>, out: &mut Vec<Chunk>| {
            if !buf.trim().is_empty() {
                out.push(Chunk {
                    page: page_no,
                    heading: h.clone(),
                    text: buf.trim().to_owned(),
                });
            }
            buf.clear();
        };
        for (h, text) in units {
            if h != buf_heading {
                flush(&mut buf, &buf_heading, &mut out);
                buf_heading = h;
            }
            for word in text.split_whitespace() {
                if buf.len() + word.len() + 1 > max_chars {
                    let tail = tail_words(&buf, overlap);
                    flush(&mut buf, &buf_heading, &mut out);
                    buf.push_str(&tail);
                }
                if !buf.is_empty() && !buf.ends_with(' ') {
                    buf.push(' ');
                }
                buf.push_str(word);
            }
            buf.push(' ');
        }
        flush(&mut buf, &buf_heading, &mut out);
    }
    out
}

/// The last whole words of `s` within `n` chars.
fn tail_words(s: &str, n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let mut start = s.len().saturating_sub(n);
    while start < s.len() && !s.is_char_boundary(start) {
        start += 1;
    }
    let tail = &s[start..];
    match tail.find(' ') {
        Some(i) if start > 0 => tail[i + 1..].to_owned(),
        _ => tail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_pages_and_headings_and_stay_bounded() {
        let pages = vec![
            "Aurora Toys Brand Guidelines\nTone of Voice\nWe speak warmly. Never use the word cheap.\nPage 1".to_owned(),
            format!(
                "Audience and Age Restrictions\n{}\nNever target users under 13.\nPage 2",
                "Parents come first in every plan. ".repeat(40)
            ),
        ];
        let chunks = chunk_pages(&pages, 300, 60);
        assert!(chunks.iter().all(|c| c.text.len() <= 300), "{chunks:#?}");
        let first = &chunks[0];
        assert_eq!(first.page, 1);
        assert_eq!(first.heading.as_deref(), Some("Tone of Voice"));
        assert!(first.text.contains("Never use the word cheap."));
        let age: Vec<&Chunk> = chunks.iter().filter(|c| c.page == 2).collect();
        assert!(age.len() > 2);
        assert!(
            age.iter()
                .all(|c| c.heading.as_deref() == Some("Audience and Age Restrictions"))
        );
        assert!(
            age.last()
                .unwrap()
                .text
                .contains("Never target users under 13.")
        );
        // Overlap: each later chunk starts with words that ended the one before.
        let first_word = age[1].text.split_whitespace().next().unwrap();
        assert!(age[0].text.contains(first_word));
        // Footers ("Page 2") are not content.
        assert!(
            !chunks.iter().any(|c| c.text.contains("Page 2")),
            "{chunks:#?}"
        );
    }
}
