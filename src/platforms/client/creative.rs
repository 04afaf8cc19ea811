//! Creative changes on live ads (the encoding is described in `live::creative_parts`).
//!
//! Meta: an ad creative is not edited in place. A change creates a new adcreative (A6) named
//! like the old one plus a short hash of its content, then points the ad at it with
//! `POST /{ad_id}` `creative={"creative_id": ...}` (H1.2). Before creating, the name is looked
//! up, so a retry or a lost create answer never makes a second creative; a lost answer to the
//! ad write is read back instead of written again.
//!
//! TikTok: `POST /open_api/v1.3/ad/update/` with `advertiser_id`, `adgroup_id` and the full
//! `creatives` list, each item carrying the `ad_id` it replaces (H2.1); read back through
//! `ad/get/`, where every ad is one row with its creative's fields. When the number of
//! creatives changes, ads are created (`ad/create/`) and disabled (`ad/status/update/`); see
//! `tiktok_reshape`.
#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    ErrorClass, META_TOKEN, PlatformClients, PlatformError, TIKTOK_TOKEN, json_body, meta,
    non_json, not_found, str_of, tag, tiktok, transport_error,
};
use crate::domain::{Channel, Platform};
use crate::platforms::PlatformRequest;
use crate::platforms::live::{
    Applied, DELIVERY_STATE, META_CREATIVE, ObjectUpdate, TIKTOK_ADGROUP, TIKTOK_CREATIVES,
    same_value,
};

/// A malformed creative update (a planning bug, not a platform answer).
fn malformed(platform: Platform, what: &str) -> PlatformError {
    PlatformError {
        class: ErrorClass::Permanent,
        code: Some("BAD_CREATIVE_UPDATE".into()),
        message: what.to_owned(),
        ..PlatformError::empty(platform)
    }
}

/// Every target field (but the name) has its value in `current`.
fn holds(target: &Map<String, Value>, current: &Map<String, Value>) -> bool {
    target
        .iter()
        .filter(|(k, _)| k.as_str() != "name" && k.as_str() != "ad_id")
        .all(|(k, v)| same_value(v, current.get(k).unwrap_or(&Value::Null)))
}

/// The new creative's name: the old one (without an earlier suffix) plus ` #` and the first 8
/// hex digits of the SHA-256 of the new content, so the same change always gets the same name.
pub(crate) fn swap_name(old: &str, target: &Map<String, Value>) -> String {
    let mut content = target.clone();
    content.remove("name");
    let digest = hex::encode(Sha256::digest(
        Value::Object(content).to_string().as_bytes(),
    ));
    let base = match old.rsplit_once(" #") {
        Some((b, h)) if h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit()) => b,
        _ => old,
    };
    format!("{base} #{}", &digest[..8])
}

/// The Meta creative an ad points at now: its id and the fields of `target`.
struct MetaCurrent {
    creative_id: String,
    creative: Map<String, Value>,
    delivery: Value,
}

impl PlatformClients {
    /// `GET /{version}/{id}?fields=...`: the node, or the classified error (a read changes
    /// nothing, so its outcome is never unknown).
    async fn meta_node(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        id: &str,
        fields: &str,
    ) -> Result<Value, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let url = format!(
            "{}/{}/{}",
            self.cfg.meta_base_url,
            self.cfg.meta_api_version,
            meta::node(id)?
        );
        let resp = self
            .http
            .get(url)
            .query(&[("fields", fields), ("access_token", token.expose())])
            .send()
            .await
            .map_err(|e| transport_error(Platform::Meta, e).after_read())?;
        let (status, headers, body) = json_body(resp).await;
        let body = body.map_err(|t| non_json(Platform::Meta, status, &headers, t).after_read())?;
        if let Some(err) = body.get("error") {
            if err.get("error_subcode").and_then(Value::as_i64) == Some(33) {
                return Err(not_found(Platform::Meta, update));
            }
            return Err(meta::classify(status, &headers, err, &body).after_read());
        }
        if !(200..300).contains(&status) {
            return Err(non_json(Platform::Meta, status, &headers, body.to_string()).after_read());
        }
        Ok(body)
    }

    /// The id of the creative the ad points at.
    async fn meta_ad_creative(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(String, Value), PlatformError> {
        let ad = self
            .meta_node(channel, update, &update.id, "creative{id},effective_status")
            .await?;
        let id = ad
            .get("creative")
            .and_then(|c| c.get("id"))
            .and_then(str_of)
            .ok_or_else(|| PlatformError {
                class: ErrorClass::Transient,
                message: format!("ad {} was read without its creative id: {ad}", update.id),
                ..PlatformError::empty(Platform::Meta)
            })?;
        let delivery = ad.get("effective_status").cloned().unwrap_or(Value::Null);
        Ok((id, delivery))
    }

    async fn meta_current(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        target: &Map<String, Value>,
    ) -> Result<MetaCurrent, PlatformError> {
        let (creative_id, delivery) = self.meta_ad_creative(channel, update).await?;
        let mut fields = vec!["id", "name"];
        fields.extend(target.keys().map(String::as_str).filter(|k| *k != "name"));
        let body = self
            .meta_node(channel, update, &creative_id, &fields.join(","))
            .await?;
        let mut creative = Map::new();
        for f in &fields {
            creative.insert(
                (*f).to_owned(),
                body.get(*f).cloned().unwrap_or(Value::Null),
            );
        }
        Ok(MetaCurrent {
            creative_id,
            creative,
            delivery,
        })
    }

    /// What the ad's creative is now: `creative` -> `{id, name, <target fields>}`.
    pub(crate) async fn creative_read(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Map<String, Value>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => {
                let target = meta_target(update)?;
                self.meta_current(channel, update, target).await.map(|cur| {
                    let mut out = Map::new();
                    out.insert(META_CREATIVE.into(), Value::Object(cur.creative));
                    out.insert(DELIVERY_STATE.into(), cur.delivery);
                    out
                })
            }
            Platform::Tiktok => {
                let (targets, _) = tiktok_target(update)?;
                self.tiktok_current(channel, update, targets).await.map(
                    |(rows, delivery, adgroup)| {
                        let mut out = Map::new();
                        out.insert(TIKTOK_CREATIVES.into(), Value::Array(rows));
                        out.insert(TIKTOK_ADGROUP.into(), adgroup);
                        out.insert(DELIVERY_STATE.into(), delivery);
                        out
                    },
                )
            }
            Platform::GoogleAds => Err(malformed(
                Platform::GoogleAds,
                "Google ads are not given new creatives in place",
            )),
        };
        r.map_err(|e| tag(e, channel, update))
    }

    /// Apply a creative change; see the module docs. With the `external_ids` entries that
    /// change: Meta `creative`, the creative the ad points at afterwards.
    pub(crate) async fn creative_apply(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_swap(channel, update).await,
            Platform::Tiktok => self.tiktok_replace(channel, update).await,
            Platform::GoogleAds => Err(malformed(
                Platform::GoogleAds,
                "Google ads are not given new creatives in place",
            )),
        };
        r.map_err(|e| tag(e, channel, update))
    }

    /// The old creative stays on the account: Meta creatives have no status to pause, and
    /// deleting one could break a rollback or another ad using it. `external_ids.creative`
    /// follows the ad to the new one, so a rollback swaps back from the right creative.
    async fn meta_swap(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let ids = |id: &str| -> Map<String, Value> {
            [(META_CREATIVE.to_owned(), Value::from(id))]
                .into_iter()
                .collect()
        };
        let target = meta_target(update)?;
        let cur = self.meta_current(channel, update, target).await?;
        if holds(target, &cur.creative) {
            return Ok((Applied::AlreadyHeld, ids(&cur.creative_id)));
        }
        let old_name = cur
            .creative
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| target.get("name").and_then(Value::as_str))
            .unwrap_or("creative");
        let mut body = target.clone();
        body.insert("name".into(), Value::from(swap_name(old_name, target)));
        let req = PlatformRequest {
            object: "creative".into(),
            method: "POST".into(),
            path: format!("/act_{}/adcreatives", channel.account_id),
            body: Value::Object(body),
        };
        let none = Map::new();
        // Made by an earlier attempt whose ad write did not happen: use it.
        let new_id = match meta::find(self, channel, &req, &none).await? {
            Some(id) => id,
            None => match meta::create(self, channel, &req, false).await {
                Ok(created) => created.id.ok_or_else(|| {
                    malformed(
                        Platform::Meta,
                        "the new ad creative came back without an id",
                    )
                })?,
                Err(e) if e.outcome_unknown => match meta::find(self, channel, &req, &none).await {
                    Ok(Some(id)) => id,
                    _ => return Err(e),
                },
                Err(e) => return Err(e),
            },
        };
        if new_id == cur.creative_id {
            return Ok((Applied::AlreadyHeld, ids(&new_id)));
        }
        let point = ObjectUpdate {
            fields: [(META_CREATIVE.to_owned(), json!({ "creative_id": new_id }))]
                .into_iter()
                .collect(),
            ..update.clone()
        };
        let fields = vec![META_CREATIVE.to_owned()];
        match meta::write_live(self, channel, &point).await {
            Ok(()) => Ok((Applied::Written { fields }, ids(&new_id))),
            Err(e) if e.outcome_unknown => match self.meta_ad_creative(channel, update).await {
                Ok((now, _)) if now == new_id => Ok((Applied::Written { fields }, ids(&new_id))),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The ads' rows from `ad/get/` (in id order, with the fields the targets carry), their
    /// common delivery state and ad group.
    async fn tiktok_current(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        targets: &[Value],
    ) -> Result<(Vec<Value>, Value, Value), PlatformError> {
        let ids = ad_ids(update);
        let mut fields: Vec<String> = vec![
            "ad_id".into(),
            "adgroup_id".into(),
            "secondary_status".into(),
        ];
        for t in targets {
            for k in t.as_object().into_iter().flatten().map(|(k, _)| k) {
                if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        let rows = tiktok::get_by_ids(self, channel, update, "ad", &ids, fields).await?;
        let first = |k: &str| {
            rows.first()
                .and_then(|r| r.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        };
        Ok((rows.clone(), first("secondary_status"), first("adgroup_id")))
    }

    /// Same number of creatives: replaced one for one in a single `ad/update/` (ads keep their
    /// ids). A different number: see [`Self::tiktok_reshape`].
    async fn tiktok_replace(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        let (targets, adgroup) = tiktok_target(update)?;
        let ids = ad_ids(update);
        if ids.len() != targets.len() {
            return self
                .tiktok_reshape(channel, update, targets, &adgroup)
                .await;
        }
        self.tiktok_replace_each(channel, update, targets, &adgroup, &ids)
            .await
            .map(|a| (a, Map::new()))
    }

    async fn tiktok_replace_each(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        targets: &[Value],
        adgroup: &str,
        ids: &[String],
    ) -> Result<Applied, PlatformError> {
        let all_hold = |rows: &[Value]| {
            rows.iter()
                .zip(targets)
                .all(|(r, t)| match (r.as_object(), t.as_object()) {
                    (Some(r), Some(t)) => holds(t, r),
                    _ => false,
                })
        };
        let (rows, _, _) = self.tiktok_current(channel, update, targets).await?;
        if all_hold(&rows) {
            return Ok(Applied::AlreadyHeld);
        }
        let creatives: Vec<Value> = targets
            .iter()
            .zip(ids)
            .map(|(t, id)| {
                let mut t = t.clone();
                t["ad_id"] = Value::from(id.clone());
                t
            })
            .collect();
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let body = json!({
            "advertiser_id": channel.account_id,
            "adgroup_id": adgroup,
            "creatives": creatives,
        });
        let url = format!(
            "{}/open_api/{}/ad/update/",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        );
        let sent = async {
            let resp = self
                .http
                .post(url)
                .header("Access-Token", token.expose())
                .json(&body)
                .send()
                .await
                .map_err(|e| transport_error(Platform::Tiktok, e))?;
            let data = tiktok::envelope(resp, true).await?;
            tiktok::refused_in_error_list(&data, TIKTOK_CREATIVES)
        }
        .await;
        let fields = vec![TIKTOK_CREATIVES.to_owned()];
        match sent {
            Ok(_) => Ok(Applied::Written { fields }),
            Err(e) if e.outcome_unknown => {
                match self.tiktok_current(channel, update, targets).await {
                    Ok((rows, _, _)) if all_hold(&rows) => Ok(Applied::Written { fields }),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl PlatformClients {
    /// A live TikTok ad group whose number of creatives changes (one ad per creative). The
    /// ad group's ads are read (`ad/get/` by `adgroup_ids`), then each wanted creative gets:
    /// an ad that already shows it (a stored one first, else one an earlier attempt made or a
    /// change disabled: no second ad after a lost create, and a rollback enables the old ad
    /// again); else a stored ad no longer wanted, its creative replaced (`ad/update/`); else a
    /// new ad (`ad/create/`) with the stored ads' status. Stored ads left over are disabled
    /// (`ad/status/update/` `DISABLE`, not `DELETE`: a deleted ad can never come back). The
    /// `external_ids.ad` handed back lists the ads in creative order.
    async fn tiktok_reshape(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        targets: &[Value],
        adgroup: &str,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        if targets.is_empty() {
            return Err(malformed(
                Platform::Tiktok,
                "a live ad group keeps at least one creative",
            ));
        }
        let stored = ad_ids(update);
        let mut fields: Vec<String> = vec!["ad_id".into(), "operation_status".into()];
        for t in targets {
            for k in t.as_object().into_iter().flatten().map(|(k, _)| k) {
                if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        let filtering = json!({ "adgroup_ids": [adgroup] });
        let group = tiktok::get_list(self, channel, "ad", &filtering, fields.clone()).await?;
        let id_of = |r: &Value| r.get("ad_id").and_then(str_of).unwrap_or_default();
        let status_of = |r: &Value| {
            r.get("operation_status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let shows = |r: &Value, t: &Value| match (r.as_object(), t.as_object()) {
            (Some(r), Some(t)) => holds(t, r),
            _ => false,
        };
        let status = if group
            .iter()
            .any(|r| stored.contains(&id_of(r)) && status_of(r) == "ENABLE")
        {
            "ENABLE"
        } else {
            "DISABLE"
        };
        // Stored ads first, in their order, then the rest of the ad group.
        let mut candidates: Vec<&Value> = stored
            .iter()
            .filter_map(|id| group.iter().find(|r| &id_of(r) == id))
            .collect();
        candidates.extend(group.iter().filter(|r| !stored.contains(&id_of(r))));
        let mut assigned: Vec<Option<String>> = vec![None; targets.len()];
        let mut used: Vec<String> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            if let Some(r) = candidates
                .iter()
                .find(|r| !used.contains(&id_of(r)) && shows(r, t))
            {
                used.push(id_of(r));
                assigned[i] = Some(id_of(r));
            }
        }
        let mut spare: Vec<String> = stored
            .iter()
            .filter(|id| !used.contains(id) && group.iter().any(|r| &id_of(r) == *id))
            .cloned()
            .collect();
        let mut wrote = false;
        for (i, t) in targets.iter().enumerate() {
            if assigned[i].is_some() {
                continue;
            }
            let id = if spare.is_empty() {
                wrote = true;
                self.tiktok_ad_create(channel, update, adgroup, t, status, &fields, &used)
                    .await?
            } else {
                let id = spare.remove(0);
                let one = ObjectUpdate {
                    id: id.clone(),
                    ..update.clone()
                };
                let replaced = self
                    .tiktok_replace_each(
                        channel,
                        &one,
                        std::slice::from_ref(t),
                        adgroup,
                        std::slice::from_ref(&id),
                    )
                    .await?;
                wrote |= matches!(replaced, Applied::Written { .. });
                id
            };
            used.push(id.clone());
            assigned[i] = Some(id);
        }
        let kept: Vec<String> = assigned.into_iter().flatten().collect();
        // Every wanted ad delivers as the stored ones did; the ones no longer wanted stop.
        for (ids, to) in [(kept.clone(), status), (spare, "DISABLE")] {
            if ids.is_empty() {
                continue;
            }
            let set = ObjectUpdate {
                id: ids.join(","),
                fields: [("operation_status".to_owned(), Value::from(to))]
                    .into_iter()
                    .collect(),
                ..update.clone()
            };
            wrote |= matches!(
                self.apply_fields(channel, &set).await?,
                Applied::Written { .. }
            );
        }
        let applied = if wrote {
            Applied::Written {
                fields: vec![TIKTOK_CREATIVES.to_owned()],
            }
        } else {
            Applied::AlreadyHeld
        };
        let ids = [("ad".to_owned(), Value::from(kept.join(",")))]
            .into_iter()
            .collect();
        Ok((applied, ids))
    }

    /// `ad/create/` of one ad with creative `t` in the ad group; after a lost answer, the ad
    /// group is read and an ad showing `t` (not among `used`) is the one made.
    #[allow(clippy::too_many_arguments)]
    async fn tiktok_ad_create(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
        adgroup: &str,
        t: &Value,
        status: &str,
        fields: &[String],
        used: &[String],
    ) -> Result<String, PlatformError> {
        let req = PlatformRequest {
            object: "ad".into(),
            method: "POST".into(),
            path: format!("/open_api/{}/ad/create/", self.cfg.tiktok_api_version),
            body: json!({
                "advertiser_id": channel.account_id,
                "adgroup_id": adgroup,
                "operation_status": status,
                "creatives": [t],
            }),
        };
        match tiktok::create(self, channel, &req).await {
            Ok(created) => created
                .id
                .ok_or_else(|| malformed(Platform::Tiktok, "the new ad came back without an id")),
            Err(e) if e.outcome_unknown => {
                let filtering = json!({ "adgroup_ids": [adgroup] });
                let found = tiktok::get_list(self, channel, "ad", &filtering, fields.to_vec())
                    .await
                    .ok()
                    .and_then(|rows| {
                        rows.into_iter().find_map(|r| {
                            let id = r.get("ad_id").and_then(str_of)?;
                            let shows = match (r.as_object(), t.as_object()) {
                                (Some(r), Some(t)) => holds(t, r),
                                _ => false,
                            };
                            (shows && !used.contains(&id) && !ad_ids(update).contains(&id))
                                .then_some(id)
                        })
                    });
                found.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
}

fn meta_target(update: &ObjectUpdate) -> Result<&Map<String, Value>, PlatformError> {
    update
        .fields
        .get(META_CREATIVE)
        .and_then(Value::as_object)
        .ok_or_else(|| {
            malformed(
                Platform::Meta,
                "the creative update carries no creative body",
            )
        })
}

fn tiktok_target(update: &ObjectUpdate) -> Result<(&[Value], String), PlatformError> {
    let creatives = update
        .fields
        .get(TIKTOK_CREATIVES)
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(Platform::Tiktok, "the creative update carries no creatives"))?;
    let adgroup = update
        .fields
        .get(TIKTOK_ADGROUP)
        .and_then(str_of)
        .ok_or_else(|| {
            malformed(
                Platform::Tiktok,
                "the creative update carries no adgroup_id",
            )
        })?;
    Ok((creatives, adgroup))
}

/// Stored ad ids: one, or several joined by commas (one ad per creative).
fn ad_ids(update: &ObjectUpdate) -> Vec<String> {
    update
        .id
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_names_are_stable_and_do_not_pile_up() {
        let target = |headline: &str| {
            json!({"name": "X", "object_story_spec": {"link_data": {"name": headline}}})
                .as_object()
                .cloned()
                .unwrap()
        };
        let a = swap_name("Moana Spring", &target("A"));
        assert!(a.starts_with("Moana Spring #") && a.len() == "Moana Spring #".len() + 8);
        assert_eq!(a, swap_name("Moana Spring", &target("A")));
        let b = swap_name(&a, &target("B"));
        assert_ne!(a, b);
        assert_eq!(b, swap_name("Moana Spring", &target("B")));
        // A name that merely contains " #" keeps it.
        assert!(swap_name("Deal #1", &target("A")).starts_with("Deal #1 #"));
    }
}
