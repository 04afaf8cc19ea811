//! Reviewing a ticket against its brand's guidelines: queries built from the ticket
//! (audience, interests, platform, objective, creative copy), retrieval, then findings. With
//! a language model it judges; without one it lists the rules to check and flags the clear
//! conflicts it can read (ages, named interests).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CopilotService, Passage};
use crate::domain::TicketContext;
use crate::error::AppResult;
use crate::llm::prompts;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewTicketInput {
    /// The ticket to review, e.g. 42.
    pub ticket_id: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Finding {
    /// VIOLATION (the ticket breaks the rule), CHECK (a person must verify) or INFO.
    pub severity: String,
    /// The guideline rule.
    pub rule: String,
    /// What to change or check in the ticket.
    pub advice: String,
    /// Where the rule is, e.g. "aurora-toys.pdf p.3".
    pub citation: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReviewOutput {
    pub ticket_id: i64,
    pub brand_code: String,
    /// "llm" (the model judged) or "rules" (relevant rules listed, clear conflicts flagged).
    pub mode: String,
    pub retrieval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub findings: Vec<Finding>,
}

static MIN_AGE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)\b(?:under|below|younger than)\s+(?:the\s+age\s+of\s+)?(\d{1,2})\b",
        r"(?i)\bminimum\s+(?:target(?:ing)?\s+)?age\s*(?:of|is|:)?\s*(\d{1,2})\b",
        r"\b(\d{1,2})\s*\+",
        r"(?i)\baged?\s+(\d{1,2})\s+(?:and|or)\s+(?:over|older|above)\b",
        r"(?i)\bat\s+least\s+(\d{1,2})\s+years?\b",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// The highest minimum age a passage states, if any.
fn stated_min_age(text: &str) -> Option<i64> {
    MIN_AGE
        .iter()
        .flat_map(|re| re.captures_iter(text))
        .filter_map(|c| c.get(1)?.as_str().parse::<i64>().ok())
        .filter(|a| (10..=30).contains(a))
        .max()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn first_sentences(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    match head.rfind(". ") {
        Some(i) if i > max / 3 => head[..=i].to_owned(),
        _ => format!("{head}…"),
    }
}

impl CopilotService {
    pub async fn review_ticket(&self, input: ReviewTicketInput) -> AppResult<ReviewOutput> {
        let TicketContext {
            ticket,
            campaign,
            brand,
            market,
            channel,
            ..
        } = self.governance.ticket_context(input.ticket_id).await?;
        let spec = &ticket.payload_config;
        let platform = channel.platform.as_str().replace('_', " ");
        let targeting = &spec["targeting"];
        let age_min = targeting["age_min"].as_i64();
        let interests: Vec<(String, String)> = targeting["interests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                (
                    i["id"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| i["id"].as_i64().map(|n| n.to_string()))
                        .unwrap_or_default(),
                    i["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let headline = str_at(spec, &["creative", "headline"]).unwrap_or_default();
        let body = str_at(spec, &["creative", "body"]).unwrap_or_default();
        let objective = spec["objective"].as_str().unwrap_or_default();
        let mut queries: Vec<(&str, String)> = vec![
            (
                "age",
                format!(
                    "audience age restrictions minimum age target users under {}",
                    age_min.map(|a| a.to_string()).unwrap_or_default()
                ),
            ),
            (
                "interests",
                format!(
                    "prohibited interests adjacencies must not target {}",
                    interests
                        .iter()
                        .map(|i| i.1.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ),
            (
                "platform",
                format!("{platform} rules placements {}", market.country),
            ),
            (
                "tone",
                format!("tone of voice words to avoid {headline} {body}"),
            ),
        ];
        if !objective.is_empty() {
            queries.push(("objective", format!("{objective} budget pacing campaign")));
        }

        let mut seen = HashSet::new();
        let mut passages: Vec<(&str, Passage)> = Vec::new();
        let mut retrieval = "lexical".to_owned();
        let mut note = None;
        for (topic, q) in &queries {
            let (hits, r, n) = self.retrieve(brand.id, q, 3).await;
            retrieval = r;
            note = n.or(note);
            for (p, relevance) in hits {
                if relevance < 0.2 {
                    continue;
                }
                if seen.insert((p.document.clone(), p.page, p.text.clone())) {
                    passages.push((topic, p));
                }
            }
        }

        if let Some(llm) = self.llm.as_ref().filter(|l| l.chat_model().is_some())
            && !passages.is_empty()
        {
            let ticket_json = serde_json::json!({
                "name": ticket.platform_name,
                "platform": channel.platform,
                "market": market.code,
                "campaign": campaign.name,
                "payload_config": ticket.payload_config,
            });
            let only: Vec<Passage> = passages.iter().map(|(_, p)| p.clone()).collect();
            let system = prompts::render(
                prompts::TICKET_REVIEW,
                &[
                    ("brand", &format!("{} ({})", brand.name, brand.code)),
                    ("ticket", &ticket_json.to_string()),
                    ("passages", &super::answer::render_passages(&only)),
                ],
            );
            match llm
                .chat(&system, "Review the ticket. Answer with the JSON only.")
                .await
            {
                Ok(text) => {
                    if let Some(findings) = parse_findings(&text, &only) {
                        return Ok(ReviewOutput {
                            ticket_id: ticket.id,
                            brand_code: brand.code,
                            mode: "llm".into(),
                            retrieval,
                            note,
                            findings,
                        });
                    }
                    note = Some("the language model's answer was not usable JSON, so the rules are listed instead".into());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ticket review by the model failed");
                    note =
                        Some("the language model failed, so the rules are listed instead".into());
                }
            }
        }

        let mut findings = Vec::new();
        for (topic, p) in &passages {
            let rule = first_sentences(&p.text, 320);
            let lower = p.text.to_lowercase();
            let (severity, advice) = match *topic {
                "age" => match (stated_min_age(&p.text), age_min) {
                    (Some(min), Some(a)) if a < min => (
                        "VIOLATION",
                        format!(
                            "the ticket targets from age {a}; the guidelines require at least {min}: set targeting.age_min to {min} or more"
                        ),
                    ),
                    (Some(min), None) => (
                        "CHECK",
                        format!(
                            "the ticket sets no minimum age; the guidelines require at least {min}: set targeting.age_min"
                        ),
                    ),
                    _ => (
                        "CHECK",
                        "check the ticket's audience against this rule".to_owned(),
                    ),
                },
                "interests" => match interests.iter().find(|(id, name)| {
                    (!id.is_empty() && p.text.contains(id.as_str()))
                        || (name.len() > 3 && lower.contains(&name.to_lowercase()))
                }) {
                    Some((id, name)) => (
                        "VIOLATION",
                        format!(
                            "the ticket targets the interest \"{name}\" ({id}), which this rule names: remove it from targeting.interests"
                        ),
                    ),
                    None => (
                        "CHECK",
                        "check the ticket's interests and placements against this rule".to_owned(),
                    ),
                },
                "tone" => (
                    "CHECK",
                    "check the headline and body copy against this rule".to_owned(),
                ),
                "platform" => (
                    "CHECK",
                    format!(
                        "check the {platform} settings (placements, formats) against this rule"
                    ),
                ),
                _ => ("INFO", "relevant context for this ticket".to_owned()),
            };
            findings.push(Finding {
                severity: severity.into(),
                rule,
                advice,
                citation: p.citation.clone(),
            });
        }
        findings.sort_by_key(|f| match f.severity.as_str() {
            "VIOLATION" => 0,
            "CHECK" => 1,
            _ => 2,
        });
        Ok(ReviewOutput {
            ticket_id: ticket.id,
            brand_code: brand.code,
            mode: "rules".into(),
            retrieval,
            note,
            findings,
        })
    }
}

/// The model's findings, if its answer is the JSON asked for and cites passages it was given.
fn parse_findings(text: &str, passages: &[Passage]) -> Option<Vec<Finding>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let v: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let list = v.get("findings")?.as_array()?;
    let labels: HashSet<&str> = passages.iter().map(|p| p.citation.as_str()).collect();
    let mut out = Vec::new();
    for f in list {
        let mut finding: Finding = serde_json::from_value(f.clone()).ok()?;
        finding.severity = finding.severity.to_uppercase();
        if !matches!(finding.severity.as_str(), "VIOLATION" | "CHECK" | "INFO") {
            return None;
        }
        let label = finding.citation.trim_matches(['[', ']']).to_owned();
        if !labels.contains(label.as_str()) {
            // A citation we did not supply is not trusted.
            continue;
        }
        finding.citation = label;
        out.push(finding);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_ages_are_read_from_rule_text() {
        assert_eq!(stated_min_age("Never target users under 13."), Some(13));
        assert_eq!(
            stated_min_age("Audiences must be 18+ on every platform."),
            Some(18)
        );
        assert_eq!(
            stated_min_age("The minimum age is 25 in the UK; 21 elsewhere."),
            Some(25)
        );
        assert_eq!(stated_min_age("Budgets over 5000 USD need approval."), None);
    }
}
