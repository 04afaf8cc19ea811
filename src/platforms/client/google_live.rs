//! Google Ads live edits that replace objects instead of updating them (PLATFORMS.md C2, H3):
//!
//! - Targeting criteria are immutable. A change reads the parent's criteria of the kinds
//!   OmniTraffick manages (GAQL through `googleAds:search`), then sends one
//!   `campaignCriteria:mutate` / `adGroupCriteria:mutate` with a `remove` (resource name) for
//!   each criterion no longer wanted and a `create` for each missing one. Without
//!   `partialFailure` the request is all-or-nothing (C2), so a lost answer is settled by
//!   reading again: either everything is there or nothing is.
//! - Ads are immutable. New content creates a new `ad_group_ad` in the same ad group with the
//!   old ad's delivery status, then pauses the old ad. Before creating, the ad group's ads are
//!   read and one that already has the new content (an earlier attempt's, or the original ad
//!   when a change is rolled back) is used instead, so a lost create never makes two ads.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::google_ads::{id_of, request, row_key, send};
use super::{ErrorClass, PlatformClients, PlatformError, not_found, tag};
use crate::domain::{Channel, Platform};
use crate::platforms::live::{
    Applied, DELIVERY_STATE, GOOGLE_AD, GOOGLE_CRITERIA, GOOGLE_PARENT, GoogleReplacement, Level,
    ObjectUpdate, camel_to_snake, covers,
};

/// A malformed replacement update (a planning bug, not a platform answer).
fn malformed(what: String) -> PlatformError {
    PlatformError {
        class: ErrorClass::Permanent,
        code: Some("BAD_LIVE_UPDATE".into()),
        message: what,
        ..PlatformError::empty(Platform::GoogleAds)
    }
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// The customer id of the channel, digits only.
fn customer(channel: &Channel) -> Result<String, PlatformError> {
    let cid: String = channel.account_id.chars().filter(|c| *c != '-').collect();
    if !numeric(&cid) {
        return Err(malformed(format!(
            "\"{}\" is not a Google Ads customer id",
            channel.account_id
        )));
    }
    Ok(cid)
}

/// (GAQL resource, REST collection, parent resource) of a criteria object.
fn criteria_kind(object: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match object {
        "campaign_criterion" => Some(("campaign_criterion", "campaignCriteria", "campaign")),
        "ad_group_criterion" => Some(("ad_group_criterion", "adGroupCriteria", "ad_group")),
        _ => None,
    }
}

/// The criterion types OmniTraffick writes, with the leaf that identifies each: criteria of
/// these types under the parent are the ticket's targeting; others (added by hand, say, a
/// language or a device) are left alone.
fn managed_leaves(res: &str) -> &'static [&'static str] {
    match res {
        "campaign_criterion" => &["location.geoTargetConstant"],
        _ => &[
            "userInterest.userInterestCategory",
            "ageRange.type",
            "gender.type",
        ],
    }
}

/// Keys of a criterion body that are not what it targets.
const NOT_TARGETING: [&str; 7] = [
    "campaign",
    "adGroup",
    "status",
    "negative",
    "resourceName",
    "criterionId",
    "type",
];

/// Leaf paths (`a.b`) of a value; arrays are leaves.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, x, out);
            }
        }
        _ => out.push((prefix.to_owned(), v.clone())),
    }
}

fn negative(v: &Value) -> bool {
    v.get("negative").and_then(Value::as_bool).unwrap_or(false)
}

/// A live criterion (a search row) is the wanted one: same targeting, same negative flag.
fn criterion_is(row: &Value, wanted: &Value) -> bool {
    let Some(w) = wanted.as_object() else {
        return false;
    };
    let targeting: Map<String, Value> = w
        .iter()
        .filter(|(k, _)| !NOT_TARGETING.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    !targeting.is_empty()
        && negative(row) == negative(wanted)
        && covers(row, &Value::Object(targeting))
}

/// One live criterion: its id (`parent~criterion`), resource name and row.
struct Criterion {
    id: String,
    resource_name: String,
    row: Value,
}

/// What criteria changes are left: (criteria to remove, bodies to create).
fn criteria_diff<'a>(
    current: &'a [Criterion],
    wanted: &'a [Value],
) -> (Vec<&'a Criterion>, Vec<&'a Value>) {
    let remove = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| criterion_is(&c.row, w)))
        .collect();
    let create = wanted
        .iter()
        .filter(|w| !current.iter().any(|c| criterion_is(&c.row, w)))
        .collect();
    (remove, create)
}

/// The `external_ids` entry for a criteria object: its ids joined by commas, null when none.
fn criteria_ids(object: &str, ids: Vec<String>) -> Map<String, Value> {
    let v = if ids.is_empty() {
        Value::Null
    } else {
        Value::from(ids.join(","))
    };
    [(object.to_owned(), v)].into_iter().collect()
}

/// A search under a customer: the rows' `key` objects.
async fn search(
    c: &PlatformClients,
    channel: &Channel,
    cid: &str,
    res: &str,
    query: String,
) -> Result<Vec<Value>, PlatformError> {
    let path = format!(
        "/{}/customers/{cid}/googleAds:search",
        c.cfg.google_ads_api_version
    );
    let (_, parsed, _) = send(
        request(c, channel, &path, &json!({ "query": query }))?,
        false,
    )
    .await?;
    let key = row_key(res);
    Ok(parsed
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get(&key).cloned())
        .collect())
}

struct CriteriaUpdate<'a> {
    res: &'static str,
    collection: &'static str,
    parent_res: &'static str,
    parent: &'a str,
    wanted: &'a [Value],
}

fn criteria_update(update: &ObjectUpdate) -> Result<CriteriaUpdate<'_>, PlatformError> {
    let (res, collection, parent_res) = criteria_kind(&update.object)
        .ok_or_else(|| malformed(format!("{} is not a Google criteria object", update.object)))?;
    let wanted = update
        .fields
        .get(GOOGLE_CRITERIA)
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the criteria update carries no criteria list".into()))?;
    let parent = update
        .fields
        .get(GOOGLE_PARENT)
        .and_then(Value::as_str)
        .filter(|p| numeric(p))
        .ok_or_else(|| malformed("the criteria update carries no numeric parent_id".into()))?;
    Ok(CriteriaUpdate {
        res,
        collection,
        parent_res,
        parent,
        wanted,
    })
}

/// The parent's live criteria of the managed kinds and of the kinds `wanted` holds.
async fn read_criteria(
    c: &PlatformClients,
    channel: &Channel,
    cid: &str,
    u: &CriteriaUpdate<'_>,
) -> Result<Vec<Criterion>, PlatformError> {
    let mut paths: BTreeSet<String> = managed_leaves(u.res)
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    for w in u.wanted {
        let mut out = Vec::new();
        leaves("", w, &mut out);
        paths.extend(
            out.into_iter()
                .map(|(p, _)| p)
                .filter(|p| !NOT_TARGETING.contains(&p.split('.').next().unwrap_or(""))),
        );
    }
    let kinds: BTreeSet<String> = paths
        .iter()
        .filter_map(|p| p.split('.').next().map(str::to_owned))
        .collect();
    let mut select = vec![
        format!("{}.resource_name", u.res),
        format!("{}.negative", u.res),
    ];
    select.extend(
        paths
            .iter()
            .map(|p| format!("{}.{}", u.res, camel_to_snake(p))),
    );
    let query = format!(
        "SELECT {} FROM {} WHERE {}.id = {} AND {}.status != 'REMOVED'",
        select.join(", "),
        u.res,
        u.parent_res,
        u.parent,
        u.res
    );
    let rows = search(c, channel, cid, u.res, query).await?;
    Ok(rows
        .into_iter()
        .filter(|r| kinds.iter().any(|k| r.get(k).is_some_and(Value::is_object)))
        .filter_map(|row| {
            let rn = row.get("resourceName").and_then(Value::as_str)?.to_owned();
            Some(Criterion {
                id: id_of(&rn),
                resource_name: rn,
                row,
            })
        })
        .collect())
}

/// One ad of the ad group: id (`group~ad`), status and row.
struct AdRow {
    id: String,
    status: String,
    row: Value,
}

/// The ad group's ads (not removed), with the fields the target ad sets.
async fn read_ads(
    c: &PlatformClients,
    channel: &Channel,
    cid: &str,
    group: &str,
    target: &Value,
) -> Result<Vec<AdRow>, PlatformError> {
    let mut out = Vec::new();
    leaves("ad", target, &mut out);
    let mut select = vec![
        "ad_group_ad.resource_name".to_owned(),
        "ad_group_ad.status".to_owned(),
        "ad_group_ad.primary_status".to_owned(),
    ];
    for (p, _) in out {
        let f = format!("ad_group_ad.{}", camel_to_snake(&p));
        if !select.contains(&f) {
            select.push(f);
        }
    }
    let query = format!(
        "SELECT {} FROM ad_group_ad WHERE ad_group.id = {group} AND ad_group_ad.status != 'REMOVED'",
        select.join(", ")
    );
    let rows = search(c, channel, cid, "ad_group_ad", query).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let rn = row.get("resourceName").and_then(Value::as_str)?;
            Some(AdRow {
                id: id_of(rn),
                status: row
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                row,
            })
        })
        .collect())
}

fn ad_is(row: &AdRow, target: &Value) -> bool {
    covers(row.row.get("ad").unwrap_or(&Value::Null), target)
}

struct AdUpdate<'a> {
    group: &'a str,
    target: &'a Value,
}

fn ad_update(update: &ObjectUpdate) -> Result<AdUpdate<'_>, PlatformError> {
    let target = update
        .fields
        .get(GOOGLE_AD)
        .filter(|v| v.is_object())
        .ok_or_else(|| malformed("the ad update carries no ad".into()))?;
    let group = update
        .id
        .split_once('~')
        .map(|(g, _)| g)
        .filter(|g| numeric(g))
        .ok_or_else(|| {
            malformed(format!(
                "\"{}\" is not a Google ad id (ad_group~ad)",
                update.id
            ))
        })?;
    Ok(AdUpdate { group, target })
}

impl PlatformClients {
    pub(crate) async fn google_replacement_read(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        kind: GoogleReplacement,
    ) -> Result<Map<String, Value>, PlatformError> {
        let r = async {
            let cid = customer(channel)?;
            let mut out = Map::new();
            match kind {
                GoogleReplacement::Criteria => {
                    let u = criteria_update(update)?;
                    let rows = read_criteria(self, channel, &cid, &u).await?;
                    out.insert(
                        GOOGLE_CRITERIA.into(),
                        Value::Array(rows.into_iter().map(|c| c.row).collect()),
                    );
                    out.insert(DELIVERY_STATE.into(), Value::Null);
                }
                GoogleReplacement::Ad => {
                    let u = ad_update(update)?;
                    let rows = read_ads(self, channel, &cid, u.group, u.target).await?;
                    let row = rows
                        .into_iter()
                        .find(|r| r.id == update.id)
                        .ok_or_else(|| not_found(Platform::GoogleAds, update))?;
                    out.insert(
                        GOOGLE_AD.into(),
                        row.row.get("ad").cloned().unwrap_or(Value::Null),
                    );
                    out.insert(
                        DELIVERY_STATE.into(),
                        row.row.get("primaryStatus").cloned().unwrap_or(Value::Null),
                    );
                }
            }
            Ok(out)
        }
        .await;
        r.map_err(|e: PlatformError| tag(e, channel, update))
    }

    pub(crate) async fn google_replacement_apply(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        kind: GoogleReplacement,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let r = match kind {
            GoogleReplacement::Criteria => self.google_criteria_apply(channel, update).await,
            GoogleReplacement::Ad => self.google_ad_replace(channel, update).await,
        };
        r.map_err(|e| tag(e, channel, update))
    }

    async fn google_criteria_apply(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let u = criteria_update(update)?;
        let cid = customer(channel)?;
        let current = read_criteria(self, channel, &cid, &u).await?;
        let ids_now = |rows: &[Criterion]| rows.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        let (remove, create) = criteria_diff(&current, u.wanted);
        if remove.is_empty() && create.is_empty() {
            return Ok((
                Applied::AlreadyHeld,
                criteria_ids(&update.object, ids_now(&current)),
            ));
        }
        let mut ops: Vec<Value> = remove
            .iter()
            .map(|c| json!({ "remove": c.resource_name }))
            .collect();
        ops.extend(create.iter().map(|w| json!({ "create": w })));
        let path = format!(
            "/{}/customers/{cid}/{}:mutate",
            self.cfg.google_ads_api_version, u.collection
        );
        let fields = vec![GOOGLE_CRITERIA.to_owned()];
        let sent = send(
            request(self, channel, &path, &json!({ "operations": ops }))?,
            true,
        )
        .await;
        match sent {
            Ok((_, parsed, _)) => {
                let names: Vec<String> = parsed
                    .get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("resourceName").and_then(Value::as_str))
                    .map(id_of)
                    .collect();
                let ids = if names.len() == ops.len() {
                    let mut ids: Vec<String> = current
                        .iter()
                        .filter(|c| !remove.iter().any(|r| r.id == c.id))
                        .map(|c| c.id.clone())
                        .collect();
                    ids.extend(names[remove.len()..].iter().cloned());
                    ids
                } else {
                    // Applied (the answer says so) but without every name: read them.
                    ids_now(&read_criteria(self, channel, &cid, &u).await?)
                };
                Ok((
                    Applied::Written { fields },
                    criteria_ids(&update.object, ids),
                ))
            }
            Err(e) if e.outcome_unknown => match read_criteria(self, channel, &cid, &u).await {
                Ok(now) => {
                    let (r, c) = criteria_diff(&now, u.wanted);
                    if r.is_empty() && c.is_empty() {
                        Ok((
                            Applied::Written { fields },
                            criteria_ids(&update.object, ids_now(&now)),
                        ))
                    } else {
                        Err(e)
                    }
                }
                Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Create the new ad (`status` as given) in the ad group; after a lost answer, look for it.
    async fn google_ad_create(
        &self,
        channel: &Channel,
        cid: &str,
        u: &AdUpdate<'_>,
        status: &str,
    ) -> Result<String, PlatformError> {
        let body = json!({"operations": [{"create": {
            "adGroup": format!("customers/{cid}/adGroups/{}", u.group),
            "status": status,
            "ad": u.target,
        }}]});
        let path = format!(
            "/{}/customers/{cid}/adGroupAds:mutate",
            self.cfg.google_ads_api_version
        );
        match send(request(self, channel, &path, &body)?, true).await {
            Ok((_, parsed, _)) => parsed
                .get("results")
                .and_then(|r| r.get(0))
                .and_then(|r| r.get("resourceName"))
                .and_then(Value::as_str)
                .map(id_of)
                .ok_or_else(|| PlatformError {
                    class: ErrorClass::Transient,
                    message: format!("the new ad was created without a resource name: {parsed}"),
                    outcome_unknown: true,
                    ..PlatformError::empty(Platform::GoogleAds)
                }),
            Err(e) if e.outcome_unknown => {
                match read_ads(self, channel, cid, u.group, u.target).await {
                    Ok(rows) => match rows.iter().find(|r| ad_is(r, u.target)) {
                        Some(r) => Ok(r.id.clone()),
                        None => Err(e),
                    },
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn google_ad_status(
        &self,
        channel: &Channel,
        id: &str,
        status: &str,
    ) -> Result<Applied, PlatformError> {
        let u = ObjectUpdate {
            object: "ad_group_ad".into(),
            id: id.to_owned(),
            level: Level::Ad,
            fields: [("status".to_owned(), Value::from(status))]
                .into_iter()
                .collect(),
        };
        self.apply_fields(channel, &u).await
    }

    async fn google_ad_replace(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let u = ad_update(update)?;
        let cid = customer(channel)?;
        let ids = |id: &str| -> Map<String, Value> {
            [("ad_group_ad".to_owned(), Value::from(id))]
                .into_iter()
                .collect()
        };
        let rows = read_ads(self, channel, &cid, u.group, u.target).await?;
        let old = rows
            .iter()
            .find(|r| r.id == update.id)
            .ok_or_else(|| not_found(Platform::GoogleAds, update))?;
        if ad_is(old, u.target) {
            return Ok((Applied::AlreadyHeld, ids(&old.id)));
        }
        // An ad that already has the new content: made by an earlier attempt (the old ad may
        // then be paused already), or the original ad when a change is rolled back.
        let existing = rows.iter().find(|r| r.id != old.id && ad_is(r, u.target));
        let enabled = old.status == "ENABLED" || existing.is_some_and(|r| r.status == "ENABLED");
        let status = if enabled { "ENABLED" } else { "PAUSED" };
        let written = |a: Applied| matches!(a, Applied::Written { .. });
        let (new_id, mut wrote) = match existing {
            Some(r) => {
                let set = r.status != status
                    && written(self.google_ad_status(channel, &r.id, status).await?);
                (r.id.clone(), set)
            }
            None => (
                self.google_ad_create(channel, &cid, &u, status).await?,
                true,
            ),
        };
        // The new ad delivers as the old one did; only then does the old one stop. It is
        // paused, not removed, so its history stays and a rollback can enable it again.
        wrote |= written(self.google_ad_status(channel, &old.id, "PAUSED").await?);
        let applied = if wrote {
            Applied::Written {
                fields: vec![GOOGLE_AD.to_owned()],
            }
        } else {
            Applied::AlreadyHeld
        };
        Ok((applied, ids(&new_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_match_by_targeting_and_negative_flag() {
        let wanted = vec![
            json!({"adGroup": "customers/1/adGroups/5", "negative": true, "ageRange": {"type": "AGE_RANGE_35_44"}}),
            json!({"adGroup": "customers/1/adGroups/5", "status": "ENABLED", "userInterest": {"userInterestCategory": "customers/1/userInterests/9"}}),
        ];
        let row = |id: &str, v: Value| Criterion {
            id: id.into(),
            resource_name: format!("customers/1/adGroupCriteria/{id}"),
            row: v,
        };
        let current = vec![
            row(
                "5~1",
                json!({"negative": true, "ageRange": {"type": "AGE_RANGE_35_44"}}),
            ),
            // Same age range, but targeted rather than excluded: not the wanted one.
            row("5~2", json!({"ageRange": {"type": "AGE_RANGE_45_54"}})),
            row(
                "5~3",
                json!({"negative": false, "userInterest": {"userInterestCategory": "customers/1/userInterests/9"}, "extra": 1}),
            ),
        ];
        let (remove, create) = criteria_diff(&current, &wanted);
        assert_eq!(
            remove.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["5~2"]
        );
        assert!(create.is_empty());
        let (remove, create) = criteria_diff(&[], &wanted);
        assert!(remove.is_empty());
        assert_eq!(create.len(), 2);
        assert_eq!(
            criteria_ids("ad_group_criterion", vec![]),
            *json!({"ad_group_criterion": null}).as_object().unwrap()
        );
    }

    #[test]
    fn ads_hold_their_target_in_any_order_whatever_else_they_carry() {
        let target = json!({"finalUrls": ["https://e.com"], "responsiveSearchAd": {"headlines": [{"text": "A"}, {"text": "B"}]}});
        let row = |ad: Value| AdRow {
            id: "1~2".into(),
            status: "ENABLED".into(),
            row: json!({ "ad": ad }),
        };
        assert!(ad_is(
            &row(
                json!({"finalUrls": ["https://e.com"], "responsiveSearchAd": {"headlines": [{"text": "A", "assetPerformanceLabel": "PENDING"}, {"text": "B"}]}})
            ),
            &target
        ));
        assert!(ad_is(
            &row(
                json!({"finalUrls": ["https://e.com"], "responsiveSearchAd": {"headlines": [{"text": "B"}, {"text": "A"}]}})
            ),
            &target
        ));
        assert!(!ad_is(
            &row(
                json!({"finalUrls": ["https://e.com"], "responsiveSearchAd": {"headlines": [{"text": "A"}, {"text": "C"}]}})
            ),
            &target
        ));
        assert!(!ad_is(&row(json!({})), &target));
    }
}
