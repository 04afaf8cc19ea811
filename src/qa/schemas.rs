//! JSON Schemas of each platform endpoint's request body, kept in the repo under `schemas/`
//! and compiled once.

use jsonschema::Validator;
use serde_json::Value;
use std::sync::OnceLock;

use crate::domain::Platform;

const SOURCES: &[(Platform, &str, &str)] = &[
    (
        Platform::Meta,
        "campaign",
        include_str!("../../schemas/meta/campaign.json"),
    ),
    (
        Platform::Meta,
        "adset",
        include_str!("../../schemas/meta/adset.json"),
    ),
    (
        Platform::Meta,
        "creative",
        include_str!("../../schemas/meta/creative.json"),
    ),
    (
        Platform::Meta,
        "ad",
        include_str!("../../schemas/meta/ad.json"),
    ),
    (
        Platform::Tiktok,
        "campaign",
        include_str!("../../schemas/tiktok/campaign.json"),
    ),
    (
        Platform::Tiktok,
        "adgroup",
        include_str!("../../schemas/tiktok/adgroup.json"),
    ),
    (
        Platform::Tiktok,
        "ad",
        include_str!("../../schemas/tiktok/ad.json"),
    ),
    (
        Platform::GoogleAds,
        "campaign_budget",
        include_str!("../../schemas/google_ads/campaign_budget.json"),
    ),
    (
        Platform::GoogleAds,
        "campaign",
        include_str!("../../schemas/google_ads/campaign.json"),
    ),
    (
        Platform::GoogleAds,
        "campaign_criterion",
        include_str!("../../schemas/google_ads/campaign_criterion.json"),
    ),
    (
        Platform::GoogleAds,
        "ad_group",
        include_str!("../../schemas/google_ads/ad_group.json"),
    ),
    (
        Platform::GoogleAds,
        "ad_group_criterion",
        include_str!("../../schemas/google_ads/ad_group_criterion.json"),
    ),
    (
        Platform::GoogleAds,
        "ad_group_ad",
        include_str!("../../schemas/google_ads/ad_group_ad.json"),
    ),
];

/// One entry per endpoint, found by a scan: with this few, hashing the key (SipHash) cost more
/// than comparing it.
type Compiled = Vec<((Platform, &'static str), Result<Validator, String>)>;

fn compiled() -> &'static Compiled {
    static CELL: OnceLock<Compiled> = OnceLock::new();
    CELL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(p, o, src)| {
                let v = serde_json::from_str::<Value>(src)
                    .map_err(|e| format!("schema {p}/{o} is not JSON: {e}"))
                    .and_then(|s| {
                        jsonschema::validator_for(&s)
                            .map_err(|e| format!("schema {p}/{o} does not compile: {e}"))
                    });
                ((*p, *o), v)
            })
            .collect()
    })
}

/// Validate a body; on failure, the JSON pointer of each bad field (as a `.a.b[0]` suffix)
/// and the reason.
pub fn validate(
    platform: Platform,
    object: &str,
    body: &Value,
) -> Result<(), Vec<(String, String)>> {
    let found = compiled()
        .iter()
        .find(|((p, o), _)| *p == platform && *o == object)
        .map(|(_, v)| v);
    match found {
        None => Err(vec![(
            String::new(),
            format!("no schema is kept for {platform} {object} requests"),
        )]),
        Some(Err(e)) => Err(vec![(String::new(), e.clone())]),
        // The fast check first; the errors are only collected for a body that fails it.
        Some(Ok(v)) if v.is_valid(body) => Ok(()),
        Some(Ok(v)) => {
            let errors: Vec<(String, String)> = v
                .iter_errors(body)
                .map(|e| {
                    (
                        pointer_to_path(&e.instance_path().to_string()),
                        e.to_string(),
                    )
                })
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
    }
}

/// "/targeting/geo_locations/countries/0" -> ".targeting.geo_locations.countries[0]"
fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles() {
        for ((p, o), v) in compiled() {
            assert!(v.is_ok(), "{p} {o}: {:?}", v.as_ref().err());
        }
    }

    #[test]
    fn pointers_become_paths() {
        assert_eq!(
            pointer_to_path("/targeting/geo_locations/countries/0"),
            ".targeting.geo_locations.countries[0]"
        );
        assert_eq!(pointer_to_path(""), "");
    }
}
