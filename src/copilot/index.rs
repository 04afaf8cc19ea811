//! The embedded retrieval index: BM25 over an inverted index plus exact dense search over
//! unit vectors, fused by reciprocal rank, filtered by brand. Built from the SQL store at
//! start and after each ingestion; an immutable snapshot is shared by readers.

use std::collections::{HashMap, HashSet};

/// One searchable chunk. Defined in the store, which reads it and must not depend on the
/// copilot.
pub use crate::store::IndexedChunk;

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Position in the index.
    pub idx: usize,
    /// The fused (RRF) score.
    pub score: f64,
    pub lexical: Option<f32>,
    pub dense: Option<f32>,
    /// Share of the query's informative terms found in the chunk (0..1).
    pub coverage: f32,
}

const K1: f32 = 1.2;
const B: f32 = 0.75;
const RRF_K: f64 = 60.0;

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "all",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "by",
    "can",
    "do",
    "does",
    "for",
    "from",
    "has",
    "have",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "may",
    "me",
    "my",
    "no",
    "not",
    "of",
    "on",
    "or",
    "our",
    "should",
    "so",
    "that",
    "the",
    "their",
    "them",
    "there",
    "these",
    "they",
    "this",
    "to",
    "us",
    "was",
    "we",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "you",
    "your",
    "would",
    "could",
    "allowed",
    "brand",
    "guidelines",
    "guideline",
    "rule",
    "rules",
    "say",
    "says",
];

/// A query is read up to this many characters: questions are short, and a pasted document
/// must not cost more than a question. `ask` refuses longer questions outright.
pub const MAX_QUERY_CHARS: usize = 4_000;

/// A query keeps at most this many distinct terms, the first ones it uses. The labelled
/// questions have 6 to 16 words.
pub const MAX_QUERY_TERMS: usize = 64;

/// Lower-case word tokens without stopwords, lightly stemmed.
pub fn tokens(text: &str) -> Vec<String> {
    words(text).collect()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
}

/// The first MAX_QUERY_CHARS characters of a query.
pub fn bounded_query(query: &str) -> &str {
    match query.char_indices().nth(MAX_QUERY_CHARS) {
        Some((end, _)) => &query[..end],
        None => query,
    }
}

/// The distinct terms of a query in the order they first appear: at most MAX_QUERY_TERMS,
/// from its first MAX_QUERY_CHARS characters. Scoring weighs each term once, so a repeat
/// adds nothing.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    words(bounded_query(query))
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_QUERY_TERMS)
        .collect()
}

/// Share of `terms` (distinct, as from `query_terms`) found in a chunk's heading and text.
pub fn coverage(terms: &[String], heading: Option<&str>, text: &str) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let mut have: HashSet<String> = HashSet::new();
    if let Some(h) = heading {
        have.extend(words(h));
    }
    have.extend(words(text));
    terms.iter().filter(|t| have.contains(*t)).count() as f32 / terms.len() as f32
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(s) = w.strip_suffix(suffix)
            && s.chars().count() >= 4
        {
            return s.to_owned();
        }
    }
    w.to_owned()
}

#[derive(Default)]
pub struct Index {
    pub chunks: Vec<IndexedChunk>,
    postings: HashMap<String, Vec<(u32, u16)>>,
    lens: Vec<u32>,
    avg_len: f32,
    by_brand: HashMap<i64, Vec<u32>>,
    /// Unit vectors, one row of `dim` floats per chunk that has one (contiguous for speed).
    vectors: Vec<f32>,
    dim: usize,
    /// Row of each chunk in `vectors`.
    rows: Vec<Option<u32>>,
}

impl Index {
    pub fn build(mut chunks: Vec<IndexedChunk>) -> Self {
        // Vectors move into one contiguous matrix; a vector of another size than the first
        // (a model change half-way) is left out of dense search.
        let dim = chunks
            .iter()
            .find_map(|c| c.vector.as_ref().map(Vec::len))
            .unwrap_or(0);
        let mut vectors = Vec::new();
        let mut rows = Vec::with_capacity(chunks.len());
        for c in &mut chunks {
            match c.vector.take() {
                Some(v) if v.len() == dim && dim > 0 => {
                    rows.push(Some((vectors.len() / dim) as u32));
                    vectors.extend_from_slice(&v);
                }
                _ => rows.push(None),
            }
        }
        let mut postings: HashMap<String, Vec<(u32, u16)>> = HashMap::new();
        let mut lens = Vec::with_capacity(chunks.len());
        let mut by_brand: HashMap<i64, Vec<u32>> = HashMap::new();
        for (i, c) in chunks.iter().enumerate() {
            let i = i as u32;
            let text = match &c.heading {
                Some(h) => format!("{h} {}", c.text),
                None => c.text.clone(),
            };
            let toks = tokens(&text);
            lens.push(toks.len() as u32);
            let mut tf: HashMap<String, u16> = HashMap::new();
            for t in toks {
                let e = tf.entry(t).or_default();
                *e = e.saturating_add(1);
            }
            for (t, n) in tf {
                postings.entry(t).or_default().push((i, n));
            }
            by_brand.entry(c.brand_id).or_default().push(i);
        }
        let avg_len = if lens.is_empty() {
            1.0
        } else {
            lens.iter().map(|&l| l as f32).sum::<f32>() / lens.len() as f32
        };
        Self {
            chunks,
            postings,
            lens,
            avg_len: avg_len.max(1.0),
            by_brand,
            vectors,
            dim,
            rows,
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether any of the brand's chunks has a vector.
    pub fn has_vectors(&self, brand_id: i64) -> bool {
        self.by_brand
            .get(&brand_id)
            .is_some_and(|ids| ids.iter().any(|&i| self.rows[i as usize].is_some()))
    }

    /// BM25 scores of the brand's chunks for the (distinct) query terms, best first.
    fn lexical(&self, brand_id: i64, terms: &[String], limit: usize) -> Vec<(u32, f32)> {
        let n = self.chunks.len() as f32;
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for t in terms {
            let Some(list) = self.postings.get(t) else {
                continue;
            };
            let df = list.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(i, tf) in list {
                if self.chunks[i as usize].brand_id != brand_id {
                    continue;
                }
                let tf = tf as f32;
                let len = self.lens[i as usize] as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.avg_len));
                *acc.entry(i).or_default() += s;
            }
        }
        let mut v: Vec<(u32, f32)> = acc.into_iter().collect();
        top(&mut v, limit);
        v
    }

    /// Cosine similarity (unit vectors) of the brand's chunks, best first.
    fn dense(&self, brand_id: i64, q: &[f32], limit: usize) -> Vec<(u32, f32)> {
        let Some(ids) = self.by_brand.get(&brand_id) else {
            return Vec::new();
        };
        if q.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let mut v: Vec<(u32, f32)> = ids
            .iter()
            .filter_map(|&i| {
                let row = self.rows[i as usize]? as usize;
                let vec = &self.vectors[row * self.dim..(row + 1) * self.dim];
                Some((i, dot(vec, q)))
            })
            .collect();
        top(&mut v, limit);
        v
    }

    /// Hybrid search: lexical always, dense when a query vector is given; fused by RRF. The
    /// query is bounded as `query_terms` says. CPU-bound on a large index: call it off the
    /// async threads.
    pub fn search(
        &self,
        brand_id: i64,
        query: &str,
        qvec: Option<&[f32]>,
        k: usize,
    ) -> Vec<Scored> {
        let terms = query_terms(query);
        let depth = (k * 5).max(50);
        let lex = self.lexical(brand_id, &terms, depth);
        let den = qvec
            .map(|q| self.dense(brand_id, q, depth))
            .unwrap_or_default();
        let mut fused: HashMap<u32, Scored> = HashMap::new();
        for (rank, (i, s)) in lex.iter().enumerate() {
            let e = fused.entry(*i).or_insert_with(|| blank(*i));
            e.score += 1.0 / (RRF_K + rank as f64 + 1.0);
            e.lexical = Some(*s);
        }
        for (rank, (i, s)) in den.iter().enumerate() {
            let e = fused.entry(*i).or_insert_with(|| blank(*i));
            e.score += 1.0 / (RRF_K + rank as f64 + 1.0);
            e.dense = Some(*s);
        }
        let mut out: Vec<Scored> = fused.into_values().collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.idx.cmp(&b.idx)));
        out.truncate(k);
        for s in &mut out {
            let c = &self.chunks[s.idx];
            s.coverage = coverage(&terms, c.heading.as_deref(), &c.text);
        }
        out
    }
}

fn blank(i: u32) -> Scored {
    Scored {
        idx: i as usize,
        score: 0.0,
        lexical: None,
        dense: None,
        coverage: 0.0,
    }
}

fn top(v: &mut Vec<(u32, f32)>, limit: usize) {
    if v.len() > limit {
        v.select_nth_unstable_by(limit, |a, b| b.1.total_cmp(&a.1));
        v.truncate(limit);
    }
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes so the compiler vectorises it.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: i64, brand: i64, page: usize, text: &str, v: Option<Vec<f32>>) -> IndexedChunk {
        IndexedChunk {
            chunk_id: id,
            brand_id: brand,
            document_id: 1,
            document: "doc.pdf".into(),
            page,
            heading: None,
            text: text.into(),
            vector: v,
        }
    }

    #[test]
    fn lexical_ranks_by_terms_and_filters_by_brand() {
        let idx = Index::build(vec![
            chunk(
                1,
                1,
                1,
                "Our logo needs clear space of one logo height.",
                None,
            ),
            chunk(
                2,
                1,
                2,
                "Never target users under 13. Audience must be parents.",
                None,
            ),
            chunk(3, 2, 1, "Never target users under 21 for spirits.", None),
        ]);
        let r = idx.search(1, "what age can we target users", None, 5);
        assert_eq!(idx.chunks[r[0].idx].chunk_id, 2);
        assert!(r.iter().all(|s| idx.chunks[s.idx].brand_id == 1));
        assert!(r[0].coverage > 0.5);
        assert!(idx.search(3, "logo", None, 5).is_empty());
    }

    #[test]
    fn query_terms_are_distinct_in_order_and_bounded() {
        // Case, plurals and repeats fold into one term each, in order of first use.
        assert_eq!(
            query_terms("Logo logo LOGOS colours, the logo colours?"),
            ["logo", "colour"]
        );
        // A megabyte of distinct words keeps the first MAX_QUERY_TERMS.
        let huge: String = (0..200_000).map(|i| format!("w{i} ")).collect();
        assert!(huge.len() > 1_000_000);
        let terms = query_terms(&huge);
        assert_eq!(terms.len(), MAX_QUERY_TERMS);
        assert_eq!(terms[0], "w0");
        assert_eq!(
            terms[MAX_QUERY_TERMS - 1],
            format!("w{}", MAX_QUERY_TERMS - 1)
        );
        // Only the first MAX_QUERY_CHARS characters are read, cut on a character boundary.
        let late = format!("{}logo colour", " ".repeat(MAX_QUERY_CHARS - 4));
        assert_eq!(query_terms(&late), ["logo"]);
        let wide = "é".repeat(MAX_QUERY_CHARS + 10);
        assert_eq!(bounded_query(&wide).chars().count(), MAX_QUERY_CHARS);
        assert_eq!(bounded_query("short"), "short");
    }

    #[test]
    fn coverage_counts_each_query_term_once() {
        let c = chunk(1, 1, 1, "Logo clear space: one logo height.", None);
        let terms = query_terms("logo logo colours");
        assert_eq!(coverage(&terms, c.heading.as_deref(), &c.text), 0.5);
        assert_eq!(coverage(&[], None, &c.text), 0.0);
    }

    #[test]
    fn dense_results_are_fused_with_lexical() {
        let idx = Index::build(vec![
            chunk(1, 1, 1, "alpha", Some(vec![1.0, 0.0])),
            chunk(2, 1, 2, "bravo", Some(vec![0.0, 1.0])),
        ]);
        // No shared words, but the vector points at chunk 2.
        let r = idx.search(1, "charlie", Some(&[0.1, 0.99]), 2);
        assert_eq!(idx.chunks[r[0].idx].chunk_id, 2);
        assert!(r[0].lexical.is_none() && r[0].dense.is_some());
    }
}
