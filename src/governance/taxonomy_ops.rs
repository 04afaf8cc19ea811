//! Taxonomy operations that need the store: picklists, name previews and checks, and what
//! renaming a governed code would do.

use sqlx::AnyConnection;

use super::{
    Governance, NamePreview, PreviewNameInput, RenameImpact, RenameImpactInput, TicketRename,
    ValidateNameInput, must, must_campaign,
};
use crate::auth::Principal;
use crate::domain::{Brand, Channel, Code, Market};
use crate::error::{AppError, AppResult};
use crate::store;
use crate::taxonomy::{NameParts, NameValidation, Picklists};

/// Which governed code a rename touches.
/// Which governed code a rename touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeKind {
    Brand,
    Market,
    Channel,
}

impl Governance {
    pub async fn picklists(&self) -> AppResult<Picklists> {
        let mut c = self.conn().await?;
        Ok(Picklists {
            brand_codes: store::list_brands(&mut c, false)
                .await?
                .into_iter()
                .map(|b| b.code)
                .collect(),
            market_codes: store::list_markets(&mut c, false)
                .await?
                .into_iter()
                .map(|m| m.code)
                .collect(),
            channel_codes: store::list_channels(&mut c, false)
                .await?
                .into_iter()
                .map(|ch| ch.code)
                .collect(),
        })
    }

    pub async fn preview_name(&self, input: PreviewNameInput) -> AppResult<NamePreview> {
        let mut c = self.conn().await?;
        let channel = must::<Channel>(&mut c, "channel_code", &input.channel_code).await?;
        let (brand, market, name, year) = match input.campaign_id {
            Some(id) => {
                let k = must_campaign(&mut c, id).await?;
                (k.brand_code, k.market_code, k.name, k.year)
            }
            None => {
                let missing =
                    |f: &str| AppError::validation(f, "required when campaign_id is not given");
                let b = must::<Brand>(
                    &mut c,
                    "brand_code",
                    input
                        .brand_code
                        .as_deref()
                        .ok_or_else(|| missing("brand_code"))?,
                )
                .await?;
                let m = must::<Market>(
                    &mut c,
                    "market_code",
                    input
                        .market_code
                        .as_deref()
                        .ok_or_else(|| missing("market_code"))?,
                )
                .await?;
                let n = input
                    .campaign_name
                    .ok_or_else(|| missing("campaign_name"))?;
                let y = input.year.ok_or_else(|| missing("year"))?;
                (b.code, m.code, n, y)
            }
        };
        let generated = self
            .convention
            .generate(&NameParts {
                brand_code: &brand,
                market_code: &market,
                channel_code: &channel.code,
                year,
                campaign_name: &name,
            })
            .map_err(|e| match e {
                AppError::Validation { field, message } if field == "name" => {
                    AppError::validation("campaign_name", message)
                }
                other => other,
            })?;
        let segments = self
            .convention
            .parse(&generated)
            .map_err(|i| AppError::Internal(i.problem))?;
        Ok(NamePreview {
            name: generated,
            convention: self.convention.pattern.clone(),
            segments,
        })
    }

    pub async fn validate_name(&self, input: ValidateNameInput) -> AppResult<NameValidation> {
        let picklists = self.picklists().await?;
        Ok(self.convention.validate(input.name.trim(), &picklists))
    }

    pub async fn rename_impact(&self, input: RenameImpactInput) -> AppResult<RenameImpact> {
        let kind = match input.segment.trim().to_ascii_lowercase().as_str() {
            "brand" => CodeKind::Brand,
            "market" => CodeKind::Market,
            "channel" => CodeKind::Channel,
            other => {
                return Err(AppError::validation(
                    "segment",
                    format!(
                        "\"{other}\" is not a governed segment; use \"brand\", \"market\" or \"channel\""
                    ),
                ));
            }
        };
        let new_code = Code::parse("new_code", &input.new_code)?;
        // Run the rename inside a transaction that is always rolled back: the preview and
        // the real rename share one code path, so they cannot disagree.
        let mut tx = self.db.begin_write().await?;
        let id = match kind {
            CodeKind::Brand => must::<Brand>(&mut tx, "code", &input.code).await?.id,
            CodeKind::Market => must::<Market>(&mut tx, "code", &input.code).await?.id,
            CodeKind::Channel => must::<Channel>(&mut tx, "code", &input.code).await?.id,
        };
        let code = Code::parse("code", &input.code)?;
        let impact = self
            .rename_in_tx(&mut tx, kind, id, code.as_str(), new_code.as_str(), None)
            .await?;
        tx.rollback().await?;
        Ok(impact)
    }

    /// Work out (and, with an actor, apply to tickets) the effect of renaming a code.
    pub(super) async fn rename_in_tx(
        &self,
        c: &mut AnyConnection,
        kind: CodeKind,
        id: i64,
        code: &str,
        new_code: &str,
        apply_as: Option<&Principal>,
    ) -> AppResult<RenameImpact> {
        let (segment, taken) = match kind {
            CodeKind::Brand => ("brand", store::find_brand(c, new_code).await?.is_some()),
            CodeKind::Market => ("market", store::find_market(c, new_code).await?.is_some()),
            CodeKind::Channel => ("channel", store::find_channel(c, new_code).await?.is_some()),
        };
        if taken && new_code != code {
            return Err(AppError::conflict(
                Some("new_code"),
                format!("a {segment} with code \"{new_code}\" already exists; pick another code"),
            ));
        }
        let (b, m, ch) = match kind {
            CodeKind::Brand => (Some(id), None, None),
            CodeKind::Market => (None, Some(id), None),
            CodeKind::Channel => (None, None, Some(id)),
        };
        let campaign_ids = if kind == CodeKind::Channel {
            Vec::new()
        } else {
            store::campaigns_using(c, b, m)
                .await?
                .into_iter()
                .map(|k| k.id)
                .collect()
        };
        let tickets = store::tickets_using(c, b, m, ch, None).await?;
        let mut renamed = Vec::new();
        let mut unchanged = Vec::new();
        for t in tickets {
            let k = must_campaign(c, t.campaign_id).await?;
            let sub = |current: &str, k: CodeKind| {
                if k == kind {
                    new_code.to_owned()
                } else {
                    current.to_owned()
                }
            };
            let new_name = self.convention.generate(&NameParts {
                brand_code: &sub(&k.brand_code, CodeKind::Brand),
                market_code: &sub(&k.market_code, CodeKind::Market),
                channel_code: &sub(&t.channel_code, CodeKind::Channel),
                year: k.year,
                campaign_name: &k.name,
            })?;
            if t.status.is_pre_deploy() {
                if let Some(actor) = apply_as
                    && new_name != t.platform_name
                {
                    self.rename_ticket(c, &t, &new_name, actor).await?;
                }
                renamed.push(TicketRename {
                    ticket_id: t.id,
                    status: t.status,
                    current_name: t.platform_name,
                    new_name,
                });
            } else {
                unchanged.push(TicketRename {
                    ticket_id: t.id,
                    status: t.status,
                    new_name: t.platform_name.clone(),
                    current_name: t.platform_name,
                });
            }
        }
        Ok(RenameImpact {
            segment: segment.into(),
            code: code.into(),
            new_code: new_code.into(),
            campaign_ids,
            renamed_tickets: renamed,
            unchanged_live_tickets: unchanged,
        })
    }
}
