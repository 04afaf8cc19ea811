//! Campaign-naming conventions as data: generate a name from governed parts, parse a name
//! back into segments, validate it (saying which segment is wrong and what it should be).
//! Pure logic; the governance service supplies the picklists and applies renames.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::error::AppError;

/// What one segment of a name holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SegmentKind {
    /// The brand's governed code ("DIS").
    BrandCode,
    /// The market's governed code ("US").
    MarketCode,
    /// The channel's governed code ("META").
    ChannelCode,
    /// The campaign's four-digit year ("2026").
    Year,
    /// The campaign's free-text name, sanitised to letters and digits in CamelCase.
    FreeText,
}

/// One segment of a convention.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Segment {
    /// Display name, as in the pattern: BrandCode, Market, Channel, Year, CampaignName.
    pub name: String,
    pub kind: SegmentKind,
}

/// A naming convention: ordered segments joined by a separator, with a maximum length.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TaxonomyConvention {
    /// e.g. "[BrandCode]_[Market]_[Channel]_[Year]_[CampaignName]"
    pub pattern: String,
    pub separator: String,
    pub max_length: usize,
    pub segments: Vec<Segment>,
}

/// The governed parts a name is made from.
#[derive(Debug, Clone, Default)]
pub struct NameParts<'a> {
    pub brand_code: &'a str,
    pub market_code: &'a str,
    pub channel_code: &'a str,
    pub year: i32,
    pub campaign_name: &'a str,
}

/// The codes a name may use, by segment kind.
#[derive(Debug, Clone, Default)]
pub struct Picklists {
    pub brand_codes: BTreeSet<String>,
    pub market_codes: BTreeSet<String>,
    pub channel_codes: BTreeSet<String>,
}

/// One segment of a parsed name.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ParsedSegment {
    pub segment: String,
    pub value: String,
}

/// A problem with one segment and the value it should most likely have.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SegmentIssue {
    /// Segment name ("Market"), or "name" for problems with the whole name.
    pub segment: String,
    pub value: String,
    pub problem: String,
    /// The value to use instead, when one can be suggested.
    pub suggestion: Option<String>,
}

/// The result of validating a name against the convention and the picklists.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NameValidation {
    pub name: String,
    pub valid: bool,
    pub segments: Vec<ParsedSegment>,
    pub issues: Vec<SegmentIssue>,
    /// The whole name with every suggestion applied, when all issues had one.
    pub suggested_name: Option<String>,
}

pub const DEFAULT_PATTERN: &str = "[BrandCode]_[Market]_[Channel]_[Year]_[CampaignName]";
/// Google Ads allows 255 characters and Meta 400; 120 keeps names readable in every UI.
pub const DEFAULT_MAX_LENGTH: usize = 120;

impl Default for TaxonomyConvention {
    fn default() -> Self {
        // The default pattern is a constant known to parse.
        Self::from_pattern(DEFAULT_PATTERN, DEFAULT_MAX_LENGTH).unwrap_or_else(|_| Self {
            pattern: DEFAULT_PATTERN.into(),
            separator: "_".into(),
            max_length: DEFAULT_MAX_LENGTH,
            segments: vec![],
        })
    }
}

fn kind_for_token(token: &str) -> Option<SegmentKind> {
    match token {
        "BrandCode" | "Brand" => Some(SegmentKind::BrandCode),
        "Market" | "MarketCode" => Some(SegmentKind::MarketCode),
        "Channel" | "ChannelCode" => Some(SegmentKind::ChannelCode),
        "Year" => Some(SegmentKind::Year),
        "CampaignName" | "Name" => Some(SegmentKind::FreeText),
        _ => None,
    }
}

impl TaxonomyConvention {
    /// Build a convention from a pattern such as `[BrandCode]_[Market]_[Year]_[CampaignName]`.
    pub fn from_pattern(pattern: &str, max_length: usize) -> Result<Self, AppError> {
        let mut segments = Vec::new();
        let mut separators = BTreeSet::new();
        let mut rest = pattern.trim();
        while !rest.is_empty() {
            let Some(after_open) = rest.strip_prefix('[') else {
                return Err(AppError::validation(
                    "pattern",
                    format!(
                        "expected \"[\" at \"{rest}\"; write segments as [BrandCode]_[Market]_..."
                    ),
                ));
            };
            let Some(close) = after_open.find(']') else {
                return Err(AppError::validation(
                    "pattern",
                    "a \"[\" has no matching \"]\"",
                ));
            };
            let token = &after_open[..close];
            let kind = kind_for_token(token).ok_or_else(|| {
                AppError::validation(
                    "pattern",
                    format!("unknown segment [{token}]; use BrandCode, Market, Channel, Year or CampaignName"),
                )
            })?;
            segments.push(Segment {
                name: token.to_owned(),
                kind,
            });
            rest = &after_open[close + 1..];
            if rest.is_empty() {
                break;
            }
            let next_open = rest.find('[').unwrap_or(rest.len());
            let sep = &rest[..next_open];
            if sep.is_empty() || sep.chars().any(|c| c.is_ascii_alphanumeric()) {
                return Err(AppError::validation(
                    "pattern",
                    "segments must be joined by a separator of punctuation such as \"_\" or \"-\"",
                ));
            }
            separators.insert(sep.to_owned());
            rest = &rest[next_open..];
        }
        if segments.is_empty() {
            return Err(AppError::validation(
                "pattern",
                "the pattern has no segments",
            ));
        }
        if separators.len() > 1 {
            return Err(AppError::validation(
                "pattern",
                "use one separator between all segments",
            ));
        }
        let free = segments
            .iter()
            .filter(|s| s.kind == SegmentKind::FreeText)
            .count();
        if free > 1 {
            return Err(AppError::validation(
                "pattern",
                "at most one [CampaignName] segment is allowed",
            ));
        }
        if max_length < 8 {
            return Err(AppError::validation("max_length", "must be at least 8"));
        }
        Ok(Self {
            pattern: pattern.trim().to_owned(),
            separator: separators.into_iter().next().unwrap_or_else(|| "_".into()),
            max_length,
            segments,
        })
    }

    /// Generate the name for the given parts.
    pub fn generate(&self, parts: &NameParts<'_>) -> Result<String, AppError> {
        let mut name = String::with_capacity(64);
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                name.push_str(&self.separator);
            }
            match seg.kind {
                SegmentKind::BrandCode => name.push_str(parts.brand_code),
                SegmentKind::MarketCode => name.push_str(parts.market_code),
                SegmentKind::ChannelCode => name.push_str(parts.channel_code),
                SegmentKind::Year => {
                    if !(2000..=2100).contains(&parts.year) {
                        return Err(AppError::validation(
                            "year",
                            format!(
                                "{} is not a campaign year; use a four-digit year between 2000 and 2100",
                                parts.year
                            ),
                        ));
                    }
                    let _ = write!(name, "{}", parts.year);
                }
                SegmentKind::FreeText => {
                    let s = sanitize_free_text(parts.campaign_name);
                    if s.is_empty() {
                        return Err(AppError::validation(
                            "name",
                            format!(
                                "\"{}\" has no letters or digits to put in the name; give the campaign a name such as \"Moana Launch\"",
                                parts.campaign_name
                            ),
                        ));
                    }
                    name.push_str(&s);
                }
            }
        }
        if let Some(len) = self.over_length(&name) {
            let over = len - self.max_length;
            return Err(AppError::validation(
                "name",
                format!(
                    "the generated name \"{name}\" is {len} characters; the convention allows {}. Shorten the campaign name by at least {over} characters",
                    self.max_length
                ),
            ));
        }
        Ok(name)
    }

    /// Split a name into its segments. Fails when the segment count does not match.
    pub fn parse(&self, name: &str) -> Result<Vec<ParsedSegment>, SegmentIssue> {
        let values: Vec<&str> = name.split(self.separator.as_str()).collect();
        if values.len() != self.segments.len() {
            return Err(SegmentIssue {
                segment: "name".into(),
                value: name.into(),
                problem: format!(
                    "has {} segments separated by \"{}\"; the convention {} has {}",
                    values.len(),
                    self.separator,
                    self.pattern,
                    self.segments.len()
                ),
                suggestion: None,
            });
        }
        Ok(self
            .segments
            .iter()
            .zip(values)
            .map(|(s, v)| ParsedSegment {
                segment: s.name.clone(),
                value: v.to_owned(),
            })
            .collect())
    }

    /// Validate a name: segment count, each segment's form, governed codes against the
    /// picklists, and the maximum length.
    pub fn validate(&self, name: &str, picklists: &Picklists) -> NameValidation {
        let mut issues = Vec::new();
        let segments = match self.parse(name) {
            Ok(s) => s,
            Err(issue) => {
                return NameValidation {
                    name: name.into(),
                    valid: false,
                    segments: vec![],
                    issues: vec![issue],
                    suggested_name: None,
                };
            }
        };
        let mut fixed = Vec::with_capacity(segments.len());
        let mut all_fixable = true;
        for (spec, parsed) in self.segments.iter().zip(&segments) {
            match check_segment(spec, &parsed.value, picklists) {
                None => fixed.push(parsed.value.clone()),
                Some((problem, suggestion)) => {
                    match &suggestion {
                        Some(s) => fixed.push(s.clone()),
                        None => all_fixable = false,
                    }
                    issues.push(SegmentIssue {
                        segment: spec.name.clone(),
                        value: parsed.value.clone(),
                        problem,
                        suggestion,
                    });
                }
            }
        }
        if let Some(len) = self.over_length(name) {
            issues.push(SegmentIssue {
                segment: "name".into(),
                value: name.into(),
                problem: format!(
                    "is {len} characters; the convention allows {}; shorten the campaign name",
                    self.max_length
                ),
                suggestion: None,
            });
            all_fixable = false;
        }
        let suggested_name =
            (!issues.is_empty() && all_fixable).then(|| fixed.join(&self.separator));
        NameValidation {
            name: name.into(),
            valid: issues.is_empty(),
            segments,
            issues,
            suggested_name,
        }
    }

    /// Whether [`validate`](Self::validate) would find the name valid, without building its
    /// report (the issues, the segments, the suggested name). QA checks every ticket's name
    /// this way and builds the report only for a name that fails.
    pub fn is_valid(&self, name: &str, picklists: &Picklists) -> bool {
        let mut values = name.split(self.separator.as_str());
        let segments_ok = self.segments.iter().all(|spec| {
            values
                .next()
                .is_some_and(|v| check_segment(spec, v, picklists).is_none())
        });
        segments_ok && values.next().is_none() && self.over_length(name).is_none()
    }

    /// The name's length in characters when it is over the convention's maximum.
    fn over_length(&self, name: &str) -> Option<usize> {
        let len = name.chars().count();
        (len > self.max_length).then_some(len)
    }
}

/// Check one segment value; on a problem return its description and a suggested value.
fn check_segment(
    spec: &Segment,
    value: &str,
    picklists: &Picklists,
) -> Option<(String, Option<String>)> {
    let pick = |list: &BTreeSet<String>, what: &str| -> Option<(String, Option<String>)> {
        if list.contains(value) {
            return None;
        }
        let upper: String = value
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let suggestion = if list.contains(&upper) {
            Some(upper)
        } else {
            closest(value, list)
        };
        let known = if list.len() <= 12 {
            format!(
                "; known {what} codes: {}",
                list.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        } else {
            String::new()
        };
        Some((
            format!("\"{value}\" is not a governed {what} code{known}"),
            suggestion,
        ))
    };
    match spec.kind {
        SegmentKind::BrandCode => pick(&picklists.brand_codes, "brand"),
        SegmentKind::MarketCode => pick(&picklists.market_codes, "market"),
        SegmentKind::ChannelCode => pick(&picklists.channel_codes, "channel"),
        SegmentKind::Year => {
            let ok = value.len() == 4
                && value.chars().all(|c| c.is_ascii_digit())
                && value
                    .parse::<i32>()
                    .is_ok_and(|y| (2000..=2100).contains(&y));
            if ok {
                return None;
            }
            let suggestion = match value.parse::<i32>() {
                Ok(y) if (0..=99).contains(&y) && value.len() == 2 => Some(format!("20{value}")),
                _ => None,
            };
            Some((
                format!("\"{value}\" is not a four-digit year between 2000 and 2100"),
                suggestion,
            ))
        }
        SegmentKind::FreeText => {
            let clean = sanitize_free_text(value);
            if clean == value && !clean.is_empty() {
                return None;
            }
            Some((
                format!(
                    "\"{value}\" must be letters and digits only, each word starting upper-case"
                ),
                (!clean.is_empty()).then_some(clean),
            ))
        }
    }
}

/// Nearest picklist entry by edit distance, if it is close enough to be a likely typo.
fn closest(value: &str, list: &BTreeSet<String>) -> Option<String> {
    let v = value.to_ascii_uppercase();
    list.iter()
        .map(|c| (levenshtein(&v, c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Turn free text into a name segment: Latin accents folded to ASCII, words joined in
/// CamelCase, everything but letters and digits dropped. "Moana Launch!" -> "MoanaLaunch".
pub fn sanitize_free_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut new_word = true;
    for c in raw.chars() {
        let mut any = false;
        let mut keep = |f: char| {
            if f.is_ascii_alphanumeric() {
                out.push(if new_word { f.to_ascii_uppercase() } else { f });
                new_word = false;
                any = true;
            }
        };
        match fold_accent(c) {
            Some(folded) => folded.chars().for_each(&mut keep),
            None => keep(c),
        }
        if !any {
            new_word = true;
        }
    }
    out
}

/// The ASCII letters a Latin accented letter folds to; `None` for any other character, which
/// stands for itself.
fn fold_accent(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        return None;
    }
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'æ' => "ae",
        'Æ' => "AE",
        'ç' => "c",
        'Ç' => "C",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ñ' => "n",
        'Ñ' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ß' => "ss",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picklists() -> Picklists {
        Picklists {
            brand_codes: ["DIS", "PXR"].map(String::from).into(),
            market_codes: ["US", "GB", "FR"].map(String::from).into(),
            channel_codes: ["META", "TIKTOK", "GADS"].map(String::from).into(),
        }
    }

    fn parts<'a>(name: &'a str) -> NameParts<'a> {
        NameParts {
            brand_code: "DIS",
            market_code: "US",
            channel_code: "META",
            year: 2026,
            campaign_name: name,
        }
    }

    #[test]
    fn generates_the_seed_example() {
        let c = TaxonomyConvention::default();
        assert_eq!(
            c.generate(&parts("Moana Launch!")).unwrap(),
            "DIS_US_META_2026_MoanaLaunch"
        );
    }

    #[test]
    fn sanitises_free_text() {
        assert_eq!(sanitize_free_text("Moana Launch!"), "MoanaLaunch");
        assert_eq!(
            sanitize_free_text("  summer_sale 2026 -- v2 "),
            "SummerSale2026V2"
        );
        assert_eq!(sanitize_free_text("Crème Brûlée"), "CremeBrulee");
        assert_eq!(sanitize_free_text("black friday"), "BlackFriday");
        assert_eq!(sanitize_free_text("日本語"), "");
        assert_eq!(sanitize_free_text("iPhone"), "IPhone");
        assert_eq!(sanitize_free_text("Straße ærø"), "StrasseAero");
        assert_eq!(sanitize_free_text("ÉTÉ-été"), "ETEEte");
        assert_eq!(sanitize_free_text("abcłdef"), "AbcDef");
    }

    #[test]
    fn refuses_names_with_nothing_usable_or_too_long() {
        let c = TaxonomyConvention::default();
        let e = c.generate(&parts("!!!")).unwrap_err();
        assert_eq!(e.field(), Some("name"));
        let long = "word ".repeat(40);
        let e = c.generate(&parts(&long)).unwrap_err().to_string();
        assert!(e.contains("Shorten the campaign name by at least"), "{e}");
        let mut p = parts("X");
        p.year = 26;
        assert_eq!(c.generate(&p).unwrap_err().field(), Some("year"));
    }

    #[test]
    fn parse_and_validate_round_trip() {
        let c = TaxonomyConvention::default();
        let name = c.generate(&parts("Moana Launch")).unwrap();
        let segs = c.parse(&name).unwrap();
        let got: Vec<_> = segs
            .iter()
            .map(|s| (s.segment.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("BrandCode", "DIS"),
                ("Market", "US"),
                ("Channel", "META"),
                ("Year", "2026"),
                ("CampaignName", "MoanaLaunch")
            ]
        );
        let v = c.validate(&name, &picklists());
        assert!(v.valid, "{v:?}");
        assert!(v.issues.is_empty());
    }

    #[test]
    fn validation_names_the_bad_segment_and_suggests_a_fix() {
        let c = TaxonomyConvention::default();
        let v = c.validate("DIS_us_META_26_moana launch", &picklists());
        assert!(!v.valid);
        let bad: Vec<_> = v.issues.iter().map(|i| i.segment.as_str()).collect();
        assert_eq!(bad, ["Market", "Year", "CampaignName"]);
        assert_eq!(
            v.suggested_name.as_deref(),
            Some("DIS_US_META_2026_MoanaLaunch")
        );

        let v = c.validate("DIZ_US_META_2026_Moana", &picklists());
        assert_eq!(v.issues[0].segment, "BrandCode");
        assert_eq!(v.issues[0].suggestion.as_deref(), Some("DIS"));

        let v = c.validate("DIS_US_2026_Moana", &picklists());
        assert_eq!(v.issues[0].segment, "name");
        assert!(v.issues[0].problem.contains("has 4 segments"));

        let v = c.validate("ZZZZ_US_META_2026_Moana", &picklists());
        assert_eq!(v.issues[0].suggestion, None);
        assert!(v.suggested_name.is_none());
    }

    #[test]
    fn the_quick_check_agrees_with_the_report() {
        let c = TaxonomyConvention::default();
        let dashed =
            TaxonomyConvention::from_pattern("[Market]-[BrandCode]-[CampaignName]", 20).unwrap();
        let names = [
            "DIS_US_META_2026_MoanaLaunch",
            "DIS_us_META_26_moana launch",
            "DIZ_US_META_2026_Moana",
            "DIS_US_2026_Moana",
            "DIS_US_META_2026_Moana_Extra",
            "DIS_US_META_2026_",
            "DIS_US_META_1999_Moana",
            "DIS_US_META_2026_Crème",
            "",
            "US-DIS-Moana",
            "US-DIS-MoanaLaunchOfTheYear",
            "US-DIS-Moana-Two",
            "US-XXX-Moana",
        ];
        for conv in [&c, &dashed] {
            for name in names {
                assert_eq!(
                    conv.is_valid(name, &picklists()),
                    conv.validate(name, &picklists()).valid,
                    "{} on {name:?}",
                    conv.pattern
                );
            }
        }
        assert!(c.is_valid("DIS_US_META_2026_MoanaLaunch", &picklists()));
        assert!(dashed.is_valid("US-DIS-Moana", &picklists()));
        let long = format!("DIS_US_META_2026_{}", "Word".repeat(30));
        assert!(!c.is_valid(&long, &picklists()));
        assert!(!c.validate(&long, &picklists()).valid);
        // A two-character, non-ASCII separator; the length is counted in characters (each
        // "·" is two bytes) and a name exactly at the limit is valid.
        let dotted = TaxonomyConvention::from_pattern("[Market]··[CampaignName]", 10).unwrap();
        for (name, valid) in [
            ("US··Moana", true),
            ("US··MoanaX", true),
            ("US··MoanaXY", false),
            ("US·Moana", false),
            ("US··Moana··X", false),
            ("US··", false),
        ] {
            assert_eq!(dotted.is_valid(name, &picklists()), valid, "{name}");
            assert_eq!(dotted.validate(name, &picklists()).valid, valid, "{name}");
        }
    }

    #[test]
    fn conventions_are_data() {
        let c =
            TaxonomyConvention::from_pattern("[Market]-[BrandCode]-[CampaignName]", 40).unwrap();
        assert_eq!(c.separator, "-");
        assert_eq!(c.generate(&parts("Moana")).unwrap(), "US-DIS-Moana");
        assert!(TaxonomyConvention::from_pattern("[Brand]_[Nope]", 40).is_err());
        assert!(TaxonomyConvention::from_pattern("[Brand]_[Market]-[Year]", 40).is_err());
        assert!(TaxonomyConvention::from_pattern("[Brand][Market]", 40).is_err());
        let json = serde_json::to_string(&c).unwrap();
        let back: TaxonomyConvention = serde_json::from_str(&json).unwrap();
        assert_eq!(back.generate(&parts("Moana")).unwrap(), "US-DIS-Moana");
    }
}
