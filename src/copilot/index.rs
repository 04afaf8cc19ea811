//! The embedded retrieval index: BM25 over an inverted index plus exact dense search over
//! unit vectors, fused by reciprocal rank, filtered by brand. Built from the SQL store at
//! start and after each ingestion; an immutable snapshot is shared by readers.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};

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
    /// One partition per brand: a search reads only its brand's postings and vectors.
    parts: HashMap<i64, Part>,
    dim: usize,
}

/// One brand's share of the index.
#[derive(Default)]
struct Part {
    /// Positions in `chunks` of the brand's chunks, ascending.
    ids: Vec<u32>,
    /// Per term: (place in `ids`, the term's BM25 weight in that chunk), precomputed at
    /// build with the collection-wide document frequency, places ascending.
    postings: HashMap<String, Vec<(u32, f32)>>,
    dense: Dense,
}

/// The brand's unit vectors, one row of `dim` floats per chunk that has one, in one
/// contiguous matrix, plus an 8-bit copy that a query scans first (a quarter of the memory
/// traffic). The 8-bit score of a row is within a known bound of its exact score, so only
/// the rows that could still reach the top are scored exactly: the result is the exact
/// search's.
#[derive(Default)]
struct Dense {
    /// Position in `chunks` of each row.
    ids: Vec<u32>,
    exact: Vec<f32>,
    codes: Vec<i8>,
    /// Per row: the codes' scale, ||v - v̂|| and ||v̂|| (v̂ = scale × codes).
    scale: Vec<f32>,
    err: Vec<f32>,
    norm: Vec<f32>,
}

/// Above this size the 8-bit scan could overflow its integer sums; such vectors are scored
/// exactly.
const MAX_CODED_DIM: usize = 65_536;

/// An 8-bit copy of a vector: codes in -127..=127 times one scale, with the distance to the
/// original and the copy's norm. A vector with a non-finite component gets an infinite
/// distance, so it is always scored exactly.
struct Coded {
    scale: f32,
    err: f32,
    norm: f32,
}

fn quantize(v: &[f32], out: &mut Vec<i8>) -> Coded {
    let finite = v.iter().all(|x| x.is_finite());
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if !finite || max == 0.0 {
        out.extend(std::iter::repeat_n(0i8, v.len()));
        return Coded {
            scale: 0.0,
            err: if finite { 0.0 } else { f32::INFINITY },
            norm: 0.0,
        };
    }
    let scale = max / 127.0;
    let (mut err2, mut norm2) = (0f64, 0f64);
    for &x in v {
        let c = (x / scale).round().clamp(-127.0, 127.0);
        out.push(c as i8);
        let back = c as f64 * scale as f64;
        err2 += (x as f64 - back).powi(2);
        norm2 += back * back;
    }
    Coded {
        scale,
        err: err2.sqrt() as f32,
        norm: norm2.sqrt() as f32,
    }
}

impl Dense {
    fn push(&mut self, id: u32, v: &[f32]) {
        self.ids.push(id);
        self.exact.extend_from_slice(v);
        let c = quantize(v, &mut self.codes);
        self.scale.push(c.scale);
        self.err.push(c.err);
        self.norm.push(c.norm);
    }
}

impl Index {
    pub fn build(mut chunks: Vec<IndexedChunk>) -> Self {
        // A vector of another size than the first (a model change half-way) is left out of
        // dense search.
        let dim = chunks
            .iter()
            .find_map(|c| c.vector.as_ref().map(Vec::len))
            .unwrap_or(0);
        let mut parts: HashMap<i64, Part> = HashMap::new();
        // Place of each chunk in its brand's `ids`.
        let mut place = Vec::with_capacity(chunks.len());
        for (i, c) in chunks.iter_mut().enumerate() {
            let part = parts.entry(c.brand_id).or_default();
            place.push(part.ids.len() as u32);
            part.ids.push(i as u32);
            match c.vector.take() {
                Some(v) if v.len() == dim && dim > 0 => part.dense.push(i as u32, &v),
                _ => {}
            }
        }
        let mut postings: HashMap<String, Vec<(u32, u16)>> = HashMap::new();
        let mut lens = Vec::with_capacity(chunks.len());
        let mut tf: HashMap<String, u16> = HashMap::new();
        for (i, c) in chunks.iter().enumerate() {
            let i = i as u32;
            // The heading's words, then the text's.
            let heading = c.heading.as_deref().map(words).into_iter().flatten();
            let mut len = 0u32;
            for t in heading.chain(words(&c.text)) {
                len += 1;
                let e = tf.entry(t).or_default();
                *e = e.saturating_add(1);
            }
            lens.push(len);
            for (t, n) in tf.drain() {
                postings.entry(t).or_default().push((i, n));
            }
        }
        let avg_len = if lens.is_empty() {
            1.0
        } else {
            lens.iter().map(|&l| l as f32).sum::<f32>() / lens.len() as f32
        };
        let avg_len = avg_len.max(1.0);
        let n = chunks.len() as f32;
        // Each term's list split by brand: consecutive chunks are mostly of one brand.
        let mut split: HashMap<i64, Vec<(u32, f32)>> = HashMap::new();
        for (t, mut list) in postings {
            list.sort_unstable_by_key(|&(i, _)| i);
            let df = list.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            let mut run: Option<(i64, Vec<(u32, f32)>)> = None;
            for (i, tf) in list {
                let tf = tf as f32;
                let len = lens[i as usize] as f32;
                let w = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len));
                let brand = chunks[i as usize].brand_id;
                match &mut run {
                    Some((b, l)) if *b == brand => l.push((place[i as usize], w)),
                    _ => {
                        if let Some((b, l)) = run.take() {
                            split.entry(b).or_default().extend(l);
                        }
                        run = Some((brand, vec![(place[i as usize], w)]));
                    }
                }
            }
            if let Some((b, l)) = run {
                split.entry(b).or_default().extend(l);
            }
            for (b, l) in split.drain() {
                if let Some(part) = parts.get_mut(&b) {
                    part.postings.insert(t.clone(), l);
                }
            }
        }
        Self { chunks, parts, dim }
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether any of the brand's chunks has a vector.
    pub fn has_vectors(&self, brand_id: i64) -> bool {
        self.parts
            .get(&brand_id)
            .is_some_and(|p| !p.dense.ids.is_empty())
    }

    /// BM25 scores of the brand's chunks for the (distinct) query terms, best first.
    fn lexical(&self, part: &Part, terms: &[String], limit: usize) -> Vec<(u32, f32)> {
        let mut acc = vec![0f32; part.ids.len()];
        let mut seen = vec![false; part.ids.len()];
        let mut touched = Vec::new();
        for t in terms {
            let Some(list) = part.postings.get(t) else {
                continue;
            };
            for &(p, w) in list {
                let p = p as usize;
                if !seen[p] {
                    seen[p] = true;
                    touched.push(p);
                }
                acc[p] += w;
            }
        }
        let mut v: Vec<(u32, f32)> = touched.into_iter().map(|p| (part.ids[p], acc[p])).collect();
        top(&mut v, limit);
        v
    }

    /// Cosine similarity (unit vectors) of the brand's chunks, best first: the 8-bit codes
    /// of every row first, then the exact score of each row whose bound still reaches the
    /// `limit`-th best lower bound.
    fn dense(&self, part: &Part, q: &[f32], limit: usize) -> Vec<(u32, f32)> {
        let d = &part.dense;
        let dim = self.dim;
        if q.len() != dim || dim == 0 || d.ids.is_empty() || limit == 0 {
            return Vec::new();
        }
        let rows = d.ids.len();
        let exact = |r: usize| &d.exact[r * dim..(r + 1) * dim];
        let mut q8 = Vec::with_capacity(dim);
        let qc = quantize(q, &mut q8);
        let qnorm = q.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt() as f32;
        if rows <= limit || dim > MAX_CODED_DIM || !qc.err.is_finite() || !qnorm.is_finite() {
            let mut v: Vec<(u32, f32)> = (0..rows).map(|r| (d.ids[r], dot(exact(r), q))).collect();
            top(&mut v, limit);
            return v;
        }
        // |q·v − q̂·v̂| ≤ ‖q‖‖v − v̂‖ + ‖q − q̂‖‖v̂‖, plus a generous allowance for the rounding
        // of the f32 sums (the exact score's and this one's).
        let round = dim as f32 * 2.4e-7 + 1e-6;
        let bound = |r: usize| {
            qnorm * d.err[r]
                + qc.err * d.norm[r]
                + round * (qnorm + qc.err) * (d.norm[r] + d.err[r])
        };
        let mut sums = Vec::with_capacity(rows);
        scan_codes(&d.codes, &q8, &mut sums);
        let mut approx = Vec::with_capacity(rows);
        let mut floor = Floor::new(limit);
        for (r, &sum) in sums.iter().enumerate() {
            let s = sum as f32 * (qc.scale * d.scale[r]);
            approx.push(s);
            floor.offer(s - bound(r));
        }
        let t = floor.value();
        let mut v: Vec<(u32, f32)> = approx
            .iter()
            .enumerate()
            .filter(|&(r, &s)| s + bound(r) >= t)
            .map(|(r, _)| (d.ids[r], dot(exact(r), q)))
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
        let Some(part) = self.parts.get(&brand_id) else {
            return Vec::new();
        };
        let terms = query_terms(query);
        let depth = (k * 5).max(50);
        let lex = self.lexical(part, &terms, depth);
        let den = qvec.map(|q| self.dense(part, q, depth)).unwrap_or_default();
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

/// The `k`-th largest of the values offered (−∞ until `k` have been).
struct Floor {
    k: usize,
    heap: BinaryHeap<Reverse<Key>>,
}

/// An f32 ordered by `total_cmp`.
struct Key(f32);

impl PartialEq for Key {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Floor {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, x: f32) {
        if x.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Reverse(Key(x)));
        } else if self.heap.peek().is_some_and(|m| x > m.0.0) {
            self.heap.pop();
            self.heap.push(Reverse(Key(x)));
        }
    }

    fn value(&self) -> f32 {
        match self.heap.peek() {
            Some(m) if self.heap.len() >= self.k => m.0.0,
            _ => f32::NEG_INFINITY,
        }
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

/// The `limit` best, best first; ties go to the earlier chunk.
fn top(v: &mut Vec<(u32, f32)>, limit: usize) {
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if v.len() > limit {
        v.select_nth_unstable_by(limit, order);
        v.truncate(limit);
    }
    v.sort_by(order);
}

/// The integer dot product of `q` with each row of `codes` (rows of `q.len()`), appended to
/// `out`. Integer sums are exact, so every variant gives the same figures.
fn scan_codes(codes: &[i8], q: &[i8], out: &mut Vec<i32>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { scan_codes_avx2(codes, q, out) };
        return;
    }
    scan_codes_portable(codes, q, out);
}

/// The same loop compiled for AVX2 (twice the lanes of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_codes_avx2(codes: &[i8], q: &[i8], out: &mut Vec<i32>) {
    scan_codes_portable(codes, q, out);
}

#[inline(always)]
fn scan_codes_portable(codes: &[i8], q: &[i8], out: &mut Vec<i32>) {
    if q.is_empty() {
        return;
    }
    out.extend(codes.chunks_exact(q.len()).map(|row| dot_i8(row, q)));
}

/// Dot product of two 8-bit code rows; sixteen lanes of 32-bit sums so the compiler
/// vectorises it.
#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = a16
        .remainder()
        .iter()
        .zip(b16.remainder())
        .map(|(&x, &y)| x as i32 * y as i32)
        .sum();
    for (x, y) in a16.zip(b16) {
        for l in 0..16 {
            acc[l] += x[l] as i16 as i32 * y[l] as i16 as i32;
        }
    }
    acc.iter().sum::<i32>() + tail
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

    fn rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut seed = seed;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 2000) as f32 / 1000.0 - 1.0
        };
        (0..n)
            .map(|_| crate::llm::normalise((0..dim).map(|_| rnd()).collect()))
            .collect()
    }

    /// Every chunk's exact score, best first, ties to the earlier chunk: what dense search
    /// must return, whatever shortcut it takes.
    fn brute_force(vs: &[Vec<f32>], q: &[f32], limit: usize) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, dot(v, q)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }

    #[test]
    fn dense_search_returns_the_exact_top_rows_and_scores() {
        let dim = 40;
        let mut vs = rows(3_000, dim, 7);
        // Near-duplicates and exact duplicates, whose 8-bit codes tie or nearly tie.
        for i in 0..200 {
            let mut v = vs[i].clone();
            v[i % dim] += 1e-4;
            vs.push(crate::llm::normalise(v));
            vs.push(vs[i].clone());
        }
        // A zero vector and one with a non-finite component must not break the scan.
        vs.push(vec![0.0; dim]);
        let mut bad = vs[5].clone();
        bad[3] = f32::NAN;
        vs.push(bad);
        let idx = Index::build(
            vs.iter()
                .enumerate()
                .map(|(i, v)| chunk(i as i64, 1, 1, "text", Some(v.clone())))
                .collect(),
        );
        let part = &idx.parts[&1];
        for (n, q) in rows(20, dim, 99).into_iter().enumerate() {
            // Queries on the rows themselves too, where the top scores crowd together.
            let q = if n % 2 == 0 { q } else { vs[n * 37].clone() };
            for limit in [1, 5, 50] {
                let got = idx.dense(part, &q, limit);
                let want = brute_force(&vs, &q, limit);
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.0, w.0, "query {n}, limit {limit}");
                    assert_eq!(g.1.to_bits(), w.1.to_bits());
                }
            }
        }
        // A query of the wrong size finds nothing; a non-finite one is scored exactly.
        assert!(idx.dense(part, &[1.0; 3], 5).is_empty());
        let mut q = vs[9].clone();
        q[0] = f32::INFINITY;
        assert_eq!(idx.dense(part, &q, 5).len(), 5);
    }

    #[test]
    fn partitions_keep_brands_apart_and_score_with_collection_frequencies() {
        let idx = Index::build(vec![
            chunk(1, 1, 1, "logo logo colour", None),
            chunk(2, 2, 1, "logo", None),
            chunk(3, 1, 2, "colour palette", Some(vec![1.0, 0.0])),
        ]);
        assert!(idx.has_vectors(1) && !idx.has_vectors(2) && !idx.has_vectors(3));
        let r = idx.search(2, "logo colour", Some(&[1.0, 0.0]), 5);
        assert_eq!(r.len(), 1);
        assert_eq!(idx.chunks[r[0].idx].chunk_id, 2);
        // BM25 by hand: "logo" is in two of the three chunks, whatever their brand.
        let idf = ((3.0f32 - 2.0 + 0.5) / (2.0 + 0.5) + 1.0).ln();
        let avg = (3.0f32 + 1.0 + 2.0) / 3.0;
        let want = idf * 1.0 * (K1 + 1.0) / (1.0 + K1 * (1.0 - B + B * 1.0 / avg));
        assert_eq!(r[0].lexical, Some(want));
        let r = idx.search(1, "logo colour", None, 5);
        let ids: Vec<i64> = r.iter().map(|s| idx.chunks[s.idx].chunk_id).collect();
        assert_eq!(ids, [1, 3]);
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
