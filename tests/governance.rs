//! The governance service against the configured store (SQLite, or PostgreSQL when
//! TEST_DATABASE_URL is set), a fresh database per test.

mod common;

use common::*;
use omnitraffick::auth::Principal;
use omnitraffick::domain::TicketStatus;
use omnitraffick::error::AppError;
use omnitraffick::governance::*;
use serde_json::json;

async fn seeded(g: &Governance) -> (i64, i64) {
    g.create_market(CreateMarketInput {
        code: "US".into(),
        country: "us".into(),
        region: "NA".into(),
    })
    .await
    .unwrap();
    g.create_market(CreateMarketInput {
        code: "GB".into(),
        country: "GB".into(),
        region: "EMEA".into(),
    })
    .await
    .unwrap();
    g.create_brand(CreateBrandInput {
        name: "Disney".into(),
        code: "DIS".into(),
        family_friendly: true,
        currency: "usd".into(),
        daily_budget_limit: Some("50000".into()),
        lifetime_budget_limit: None,
        meta_pixel_id: None,
        tiktok_pixel_code: None,
    })
    .await
    .unwrap();
    g.create_channel(CreateChannelInput {
        code: "META".into(),
        platform: "META".into(),
        account_id: "act_1234567890".into(),
    })
    .await
    .unwrap();
    g.create_channel(CreateChannelInput {
        code: "GADS".into(),
        platform: "google_ads".into(),
        account_id: "123-456-7890".into(),
    })
    .await
    .unwrap();
    let k = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "US".into(),
            name: "Moana Launch!".into(),
            year: 2026,
            daily_budget: Some("1500.50".into()),
            lifetime_budget: None,
            start_date: Some("2026-03-01".into()),
            end_date: Some("2026-03-31".into()),
        })
        .await
        .unwrap();
    let op = Principal::local_operator();
    let draft = g
        .create_ticket(
            &op,
            CreateTicketInput {
                campaign_id: k.id,
                channel_code: "META".into(),
                request_type: None,
                payload_config: None,
            },
        )
        .await
        .unwrap();
    (k.id, draft.id)
}

#[tokio::test]
async fn values_are_normalised_and_money_is_exact() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = &services.governance;
    let (campaign_id, _) = seeded(g).await;
    let k = g.get_campaign(campaign_id).await.unwrap();
    assert_eq!(k.daily_budget_minor, Some(150_050));
    assert_eq!(k.currency, "USD");
    let brands = g.list_brands(ListInput::default()).await.unwrap().brands;
    assert_eq!(brands[0].daily_budget_limit_minor, Some(5_000_000));
    assert!(brands[0].family_friendly);
    let channels = g
        .list_channels(ListInput::default())
        .await
        .unwrap()
        .channels;
    let ids: Vec<_> = channels.iter().map(|c| c.account_id.as_str()).collect();
    assert_eq!(ids, ["1234567890", "1234567890"]);
    let markets = g.list_markets(ListInput::default()).await.unwrap().markets;
    assert_eq!(
        markets
            .iter()
            .map(|m| m.country.as_str())
            .collect::<Vec<_>>(),
        ["GB", "US"]
    );

    let e = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "US".into(),
            name: "Yen".into(),
            year: 2026,
            daily_budget: Some("10.999".into()),
            lifetime_budget: None,
            start_date: None,
            end_date: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("daily_budget"));
    let e = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "US".into(),
            name: "Backwards".into(),
            year: 2026,
            daily_budget: None,
            lifetime_budget: None,
            start_date: Some("2026-05-01".into()),
            end_date: Some("2026-04-01".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("end_date"));
}

#[tokio::test]
async fn renaming_a_code_renames_drafts_and_keeps_live_names() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = &services.governance;
    let op = Principal::local_operator();
    let (campaign_id, draft_id) = seeded(g).await;
    let live = g
        .create_ticket(
            &op,
            CreateTicketInput {
                campaign_id,
                channel_code: "GADS".into(),
                request_type: None,
                payload_config: Some(json!({})),
            },
        )
        .await
        .unwrap();
    for s in [
        TicketStatus::ReadyForApi,
        TicketStatus::Queued,
        TicketStatus::Deploying,
        TicketStatus::TraffickedSuccess,
    ] {
        transition(g, "worker", live.id, s, None).await.unwrap();
    }

    let preview = g
        .rename_impact(RenameImpactInput {
            segment: "brand".into(),
            code: "DIS".into(),
            new_code: "DSNY".into(),
        })
        .await
        .unwrap();
    assert_eq!(preview.campaign_ids, [campaign_id]);
    assert_eq!(preview.renamed_tickets.len(), 1);
    assert_eq!(preview.renamed_tickets[0].ticket_id, draft_id);
    assert_eq!(
        preview.renamed_tickets[0].new_name,
        "DSNY_US_META_2026_MoanaLaunch"
    );
    assert_eq!(preview.unchanged_live_tickets[0].ticket_id, live.id);
    assert_eq!(
        preview.unchanged_live_tickets[0].new_name,
        "DIS_US_GADS_2026_MoanaLaunch"
    );
    // The preview changed nothing.
    assert_eq!(
        g.get_ticket(draft_id).await.unwrap().ticket.platform_name,
        "DIS_US_META_2026_MoanaLaunch"
    );
    assert!(g.get_brand("DIS").await.is_ok());

    let done = g
        .update_brand(
            &op,
            UpdateBrandInput {
                code: "DIS".into(),
                new_code: Some("DSNY".into()),
                name: None,
                family_friendly: None,
                currency: None,
                daily_budget_limit: None,
                lifetime_budget_limit: None,
                change_review_daily_amount: None,
                change_review_percent: None,
                meta_pixel_id: None,
                tiktok_pixel_code: None,
                archived: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(done.brand.code, "DSNY");
    let draft = g.get_ticket(draft_id).await.unwrap();
    assert_eq!(draft.ticket.platform_name, "DSNY_US_META_2026_MoanaLaunch");
    assert_eq!(draft.history.last().unwrap().event, "RENAMED");
    assert_eq!(
        g.get_ticket(live.id).await.unwrap().ticket.platform_name,
        "DIS_US_GADS_2026_MoanaLaunch"
    );
    assert!(g.get_brand("DIS").await.is_err());

    // Renaming onto an existing code is refused and changes nothing.
    let e = g
        .rename_impact(RenameImpactInput {
            segment: "market".into(),
            code: "US".into(),
            new_code: "GB".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("new_code"));

    // A campaign's new name renames its drafts too.
    let up = g
        .update_campaign(
            &op,
            UpdateCampaignInput {
                campaign_id,
                name: Some("Moana Premiere".into()),
                year: None,
                daily_budget: None,
                lifetime_budget: None,
                start_date: None,
                end_date: None,
                archived: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(up.renamed_tickets.len(), 1);
    assert_eq!(
        g.get_ticket(draft_id).await.unwrap().ticket.platform_name,
        "DSNY_US_META_2026_MoanaPremiere"
    );
}

#[tokio::test]
async fn archived_things_cannot_be_used_and_referenced_ones_cannot_change_identity() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = &services.governance;
    let op = Principal::local_operator();
    let (campaign_id, _) = seeded(g).await;

    g.archive_market(CodeInput { code: "GB".into() })
        .await
        .unwrap();
    let e = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "GB".into(),
            name: "UK Launch".into(),
            year: 2026,
            daily_budget: None,
            lifetime_budget: None,
            start_date: None,
            end_date: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "CONFLICT");
    assert!(e.to_string().contains("archived"), "{e}");
    assert_eq!(
        g.list_markets(ListInput::default())
            .await
            .unwrap()
            .markets
            .len(),
        1
    );
    assert_eq!(
        g.list_markets(ListInput {
            include_archived: true
        })
        .await
        .unwrap()
        .markets
        .len(),
        2
    );

    g.archive_channel(CodeInput {
        code: "GADS".into(),
    })
    .await
    .unwrap();
    let e = g
        .create_ticket(
            &op,
            CreateTicketInput {
                campaign_id,
                channel_code: "GADS".into(),
                request_type: None,
                payload_config: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("channel_code"));

    let e = g
        .update_brand(
            &op,
            UpdateBrandInput {
                code: "DIS".into(),
                new_code: None,
                name: None,
                family_friendly: None,
                currency: Some("EUR".into()),
                daily_budget_limit: None,
                lifetime_budget_limit: None,
                change_review_daily_amount: None,
                change_review_percent: None,
                meta_pixel_id: None,
                tiktok_pixel_code: None,
                archived: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("currency"));

    let e = g
        .update_channel(
            &op,
            UpdateChannelInput {
                code: "META".into(),
                new_code: None,
                account_id: Some("999".into()),
                archived: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("account_id"));
}

#[tokio::test]
async fn ticket_state_machine_and_history() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = &services.governance;
    let op = Principal::local_operator();
    let (_, id) = seeded(g).await;

    let e = transition(g, "worker", id, TicketStatus::Queued, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_TRANSITION");
    transition(
        g,
        "qa",
        id,
        TicketStatus::ReadyForApi,
        Some("all rules pass"),
    )
    .await
    .unwrap();
    // Editing after QA sends the ticket back to DRAFT.
    let edited = g
        .update_ticket(
            &op,
            UpdateTicketInput {
                ticket_id: id,
                payload_config: Some(json!({"objective": "SALES"})),
                channel_code: None,
                request_type: Some("new_campaign".into()),
                status: None,
                expected_version: None,
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.ticket.status, TicketStatus::Draft);
    transition(g, "qa", id, TicketStatus::ReadyForApi, None)
        .await
        .unwrap();
    transition(g, "worker", id, TicketStatus::Queued, None)
        .await
        .unwrap();
    let e = g
        .update_ticket(
            &op,
            UpdateTicketInput {
                ticket_id: id,
                payload_config: Some(json!({})),
                channel_code: None,
                request_type: None,
                status: None,
                expected_version: None,
                reason: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_TRANSITION");
    assert!(e.to_string().contains("QUEUED and cannot be edited"), "{e}");

    let view = g.get_ticket(id).await.unwrap();
    let trail: Vec<String> = view
        .history
        .iter()
        .map(|h| {
            format!(
                "{}:{}->{}",
                h.event,
                h.from_status.map(|s| s.to_string()).unwrap_or_default(),
                h.to_status
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            "CREATED:->DRAFT",
            "TRANSITION:DRAFT->READY_FOR_API",
            "EDITED:READY_FOR_API->DRAFT",
            "TRANSITION:DRAFT->READY_FOR_API",
            "TRANSITION:READY_FOR_API->QUEUED",
        ]
    );
    assert_eq!(view.ticket.version, 5);

    let filtered = g
        .list_tickets(
            &Principal::local_operator(),
            ListTicketsInput {
                status: Some("queued".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.tickets.len(), 1);
    let e = g
        .list_tickets(
            &Principal::local_operator(),
            ListTicketsInput {
                limit: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("limit"));
}

#[tokio::test]
async fn concurrent_writers_do_not_lose_updates() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = services.governance.clone();
    let (campaign_id, _) = seeded(&g).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let op = Principal::local_operator();
            g.create_ticket(
                &op,
                CreateTicketInput {
                    campaign_id,
                    channel_code: "META".into(),
                    request_type: None,
                    payload_config: Some(json!({"n": i})),
                },
            )
            .await
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.unwrap().unwrap());
    }
    // Each ticket has exactly its own CREATED row (the two are written in one round trip,
    // the history row taking the ticket's id), however the writers were grouped, and each
    // caller got the id of the ticket it asked for (its own payload).
    for (i, t) in created.iter().enumerate() {
        let view = g.get_ticket(t.id).await.unwrap();
        assert_eq!(
            view.ticket.payload_config,
            json!({"n": i}),
            "ticket {}",
            t.id
        );
        let events: Vec<_> = view
            .history
            .iter()
            .map(|h| (h.event.as_str(), h.actor.as_str(), h.detail.as_deref()))
            .collect();
        assert_eq!(
            events,
            [("CREATED", "local-operator", Some(t.platform_name.as_str()))],
            "ticket {}",
            t.id
        );
        assert_eq!(view.ticket.created_at, t.created_at);
    }
    let all = g
        .list_tickets(
            &Principal::local_operator(),
            ListTicketsInput {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.tickets.len(), 41);
}

/// Move a ticket the way QA and deploy do: through the one tickets writer, in a transaction.
async fn transition(
    g: &Governance,
    actor: &str,
    id: i64,
    to: TicketStatus,
    detail: Option<&str>,
) -> Result<(), omnitraffick::error::AppError> {
    let from = g.get_ticket(id).await?.ticket.status;
    let mut tx = g.db().begin_write().await?;
    assert!(
        omnitraffick::tickets::transition(&mut tx, id, from, to, "TRANSITION", actor, detail)
            .await?
    );
    tx.commit().await
}

/// Pixel ids end up inside a `<script>` (pixel_snippet) and in CAPI URLs, so they are checked
/// where they are written: a Meta pixel is digits, a TikTok pixel code upper-case letters and
/// digits. A bad one is refused with a VALIDATION error naming the field; "" still removes one.
#[tokio::test]
async fn pixel_ids_are_validated_where_they_are_written() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let g = &services.governance;
    let op = Principal::local_operator();
    let brand = |code: &str, meta: Option<&str>, tiktok: Option<&str>| -> CreateBrandInput {
        from_json(
            json!({"name": "Aurora", "code": code, "family_friendly": false, "currency": "USD",
            "meta_pixel_id": meta, "tiktok_pixel_code": tiktok}),
        )
    };
    let bad_meta = [
        "1</script><script>alert(1)</script>",
        "12ab5678",
        "1234",
        "123456789012345678901",
        "1234 5678",
    ];
    for bad in bad_meta {
        let e = g
            .create_brand(brand("AUR", Some(bad), None))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("VALIDATION", Some("meta_pixel_id")),
            "{bad}: {e}"
        );
    }
    let bad_tiktok = [
        "C4AB</script><!--",
        "c4abcdefgh12345678",
        "C4AB-CDEF-GH12-3456",
        "C4ABC",
        "C4ABCDEFGH12345678C4ABCDEFGH12345678",
    ];
    for bad in bad_tiktok {
        let e = g
            .create_brand(brand("AUR", None, Some(bad)))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("VALIDATION", Some("tiktok_pixel_code")),
            "{bad}: {e}"
        );
    }
    assert!(
        g.list_brands(ListInput::default())
            .await
            .unwrap()
            .brands
            .is_empty(),
        "nothing refused was stored"
    );

    let b = g
        .create_brand(brand(
            "AUR",
            Some(" 1234567890123456 "),
            Some("C4ABCDEFGH12345678"),
        ))
        .await
        .unwrap();
    assert_eq!(b.meta_pixel_id.as_deref(), Some("1234567890123456"));
    assert_eq!(b.tiktok_pixel_code.as_deref(), Some("C4ABCDEFGH12345678"));

    let update = |meta: Option<&str>, tiktok: Option<&str>| -> UpdateBrandInput {
        from_json(json!({"code": "AUR", "meta_pixel_id": meta, "tiktok_pixel_code": tiktok}))
    };
    for bad in bad_meta {
        let e = g
            .update_brand(&op, update(Some(bad), None))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("meta_pixel_id"), "{bad}: {e}");
    }
    for bad in bad_tiktok {
        let e = g
            .update_brand(&op, update(None, Some(bad)))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("tiktok_pixel_code"), "{bad}: {e}");
    }
    let kept = g.get_brand("AUR").await.unwrap();
    assert_eq!(kept.meta_pixel_id.as_deref(), Some("1234567890123456"));
    assert_eq!(
        kept.tiktok_pixel_code.as_deref(),
        Some("C4ABCDEFGH12345678")
    );

    g.update_brand(&op, update(Some("98765"), Some("")))
        .await
        .unwrap();
    let b = g.get_brand("AUR").await.unwrap();
    assert_eq!(b.meta_pixel_id.as_deref(), Some("98765"));
    assert_eq!(b.tiktok_pixel_code, None, "\"\" removes the pixel code");
}

/// A second campaign of the seeded brand and market.
async fn another_campaign(g: &Governance, name: &str) -> i64 {
    g.create_campaign(input(json!({
        "brand_code": "DIS", "market_code": "US", "name": name, "year": 2026
    })))
    .await
    .unwrap()
    .id
}

fn input<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("a valid input")
}

async fn new_ticket(
    g: &Governance,
    campaign_id: i64,
    channel: &str,
) -> Result<omnitraffick::domain::Ticket, AppError> {
    g.create_ticket(
        &Principal::local_operator(),
        input(json!({"campaign_id": campaign_id, "channel_code": channel})),
    )
    .await
}

/// Creating a ticket remembers what it took from its campaign and channel (so the next one
/// is one statement), but never trusts that memory: whatever changed since, here or in
/// another process sharing the database, shows in the next ticket, and an archived or
/// renamed-away campaign or channel is refused with nothing written.
#[tokio::test]
async fn a_new_ticket_takes_its_campaign_and_channel_as_they_are_now() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    // Another process on the same database: its changes reach this one only through it.
    let (_, other) = open(&db).await;
    let g = &services.governance;
    let o = &other.governance;
    let op = Principal::local_operator();
    let (campaign_id, first) = seeded(g).await;
    assert_eq!(
        g.get_ticket(first).await.unwrap().ticket.platform_name,
        "DIS_US_META_2026_MoanaLaunch"
    );
    let gads = new_ticket(g, campaign_id, "GADS").await.unwrap();
    assert_eq!(gads.platform_name, "DIS_US_GADS_2026_MoanaLaunch");
    let mut created = vec![gads];

    // Each fact the ticket takes, changed alone by the other process, shows in the next one.
    o.update_campaign(
        &op,
        input(json!({"campaign_id": campaign_id, "name": "Moana Sequel"})),
    )
    .await
    .unwrap();
    let t = new_ticket(g, campaign_id, "META").await.unwrap();
    assert_eq!(t.platform_name, "DIS_US_META_2026_MoanaSequel");
    created.push(t);
    o.update_campaign(
        &op,
        input(json!({"campaign_id": campaign_id, "year": 2027})),
    )
    .await
    .unwrap();
    let t = new_ticket(g, campaign_id, "META").await.unwrap();
    assert_eq!(t.platform_name, "DIS_US_META_2027_MoanaSequel");
    created.push(t);
    o.update_brand(&op, input(json!({"code": "DIS", "new_code": "DSNY"})))
        .await
        .unwrap();
    let t = new_ticket(g, campaign_id, "META").await.unwrap();
    assert_eq!(t.platform_name, "DSNY_US_META_2027_MoanaSequel");
    created.push(t);
    o.update_market(&op, input(json!({"code": "US", "new_code": "USA"})))
        .await
        .unwrap();
    let t = new_ticket(g, campaign_id, "META").await.unwrap();
    assert_eq!(t.platform_name, "DSNY_USA_META_2027_MoanaSequel");
    created.push(t);

    o.update_channel(&op, input(json!({"code": "META", "new_code": "FB"})))
        .await
        .unwrap();
    let err = new_ticket(g, campaign_id, "META").await.unwrap_err();
    assert!(
        matches!(err, AppError::NotFound { .. }) && err.to_string().contains("META"),
        "{err}"
    );
    let t = new_ticket(g, campaign_id, "FB").await.unwrap();
    assert_eq!(
        (t.platform_name.as_str(), t.channel_code.as_str()),
        ("DSNY_USA_FB_2027_MoanaSequel", "FB")
    );
    created.push(t);

    // Archived while what this process remembers is otherwise current: refused all the same.
    o.update_channel(&op, input(json!({"code": "FB", "archived": true})))
        .await
        .unwrap();
    let err = new_ticket(g, campaign_id, "FB").await.unwrap_err();
    assert!(err.to_string().contains("channel FB is archived"), "{err}");
    let t = new_ticket(g, campaign_id, "GADS").await.unwrap();
    assert_eq!(t.platform_name, "DSNY_USA_GADS_2027_MoanaSequel");
    created.push(t);
    o.update_campaign(
        &op,
        input(json!({"campaign_id": campaign_id, "archived": true})),
    )
    .await
    .unwrap();
    let err = new_ticket(g, campaign_id, "GADS").await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("campaign {campaign_id} is archived")),
        "{err}"
    );

    // The seeded ticket and seven here, each created with its one CREATED row naming it as
    // it was created: the refusals wrote nothing.
    let all = g
        .list_tickets(&op, ListTicketsInput::default())
        .await
        .unwrap();
    assert_eq!(all.tickets.len(), 8);
    for t in &created {
        let history = g.get_ticket(t.id).await.unwrap().history;
        assert_eq!(
            (history[0].event.as_str(), history[0].detail.as_deref()),
            ("CREATED", Some(t.platform_name.as_str())),
            "ticket {}",
            t.id
        );
    }
}

/// A ticket whose CREATED history row the database refuses is not created at all (the two
/// rows are one write), while tickets created beside it, in the same group of writers on
/// SQLite, are kept with their history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_whose_history_row_fails_is_not_created() {
    let db = fresh_db().await;
    let (store, services) = open(&db).await;
    let g = services.governance.clone();
    let (good, _) = seeded(&g).await;
    let bad = another_campaign(&g, "Boom").await;
    let refuse = if db.url.starts_with("postgres") {
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.detail LIKE '%Boom%' THEN RAISE EXCEPTION 'history refused'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER refuse_boom BEFORE INSERT ON ticket_history \
         FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
    } else {
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON ticket_history \
         WHEN NEW.detail LIKE '%Boom%' BEGIN SELECT RAISE(ABORT, 'history refused'); END"
    };
    sqlx::raw_sql(refuse).execute(store.pool()).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..40 {
        let g = g.clone();
        let campaign = if i % 2 == 0 { good } else { bad };
        tasks.push(tokio::spawn(async move {
            (campaign, new_ticket(&g, campaign, "META").await)
        }));
    }
    let mut kept = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (c, Ok(t)) if c == good => kept.push(t),
            (c, Err(e)) if c == bad => assert!(e.to_string().contains("history refused"), "{e}"),
            (c, other) => panic!("campaign {c}: {other:?}"),
        }
    }
    assert_eq!(kept.len(), 20);
    let op = Principal::local_operator();
    let of = |campaign_id| ListTicketsInput {
        campaign_id: Some(campaign_id),
        limit: Some(500),
        ..Default::default()
    };
    let refused = g.list_tickets(&op, of(bad)).await.unwrap();
    assert!(refused.tickets.is_empty(), "{:?}", refused.tickets);
    let stored = g.list_tickets(&op, of(good)).await.unwrap();
    assert_eq!(
        stored.tickets.len(),
        21,
        "the seeded ticket and the 20 kept"
    );
    for t in &kept {
        let history = g.get_ticket(t.id).await.unwrap().history;
        assert_eq!(history.len(), 1, "ticket {}", t.id);
    }
}

/// Tickets asked for at the same time are written together, yet each caller gets its own
/// ticket: its id holds the payload and name it asked for, with its one CREATED row. A
/// campaign renamed by another process in the meantime shows in every ticket made after,
/// whether it was written beside others or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tickets_asked_for_together_each_get_their_own() {
    let db = fresh_db().await;
    let (_, services) = open(&db).await;
    let (_, other) = open(&db).await;
    let g = services.governance.clone();
    let op = Principal::local_operator();
    let (first, _) = seeded(&g).await;
    let second = another_campaign(&g, "Wish").await;
    let ask = |campaign_id: i64, channel: &'static str, n: usize| {
        let g = g.clone();
        tokio::spawn(async move {
            let t = g
                .create_ticket(
                    &Principal::local_operator(),
                    input(json!({
                        "campaign_id": campaign_id, "channel_code": channel,
                        "payload_config": {"objective": "TRAFFIC", "n": n}
                    })),
                )
                .await;
            (campaign_id, channel, n, t)
        })
    };
    let check = |rounds: Vec<(i64, &str, usize, Result<_, AppError>)>, moana: &str| {
        let mut made = Vec::new();
        for (campaign_id, channel, n, t) in rounds {
            let t: omnitraffick::domain::Ticket = t.unwrap();
            let name = if campaign_id == first { moana } else { "Wish" };
            assert_eq!(
                t.platform_name,
                format!("DIS_US_{channel}_2026_{name}"),
                "ticket {n}"
            );
            assert_eq!(t.payload_config["n"], json!(n), "ticket {n}");
            made.push((t.id, t.platform_name, n));
        }
        made
    };
    // One ticket each first, so this process remembers both campaigns on both channels.
    for campaign in [first, second] {
        for channel in ["META", "GADS"] {
            new_ticket(&g, campaign, channel).await.unwrap();
        }
    }
    let mut made = Vec::new();
    for (round, moana) in [(0, "MoanaLaunch"), (1, "MoanaReturns")] {
        if round == 1 {
            // What this process remembers of the first campaign is now stale.
            other
                .governance
                .update_campaign(
                    &op,
                    input(json!({"campaign_id": first, "name": "Moana Returns"})),
                )
                .await
                .unwrap();
        }
        let tasks: Vec<_> = (0..48)
            .map(|i| {
                let n = round * 100 + i;
                let campaign = if i % 2 == 0 { first } else { second };
                ask(campaign, ["META", "GADS"][(i / 2) % 2], n)
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        // Tickets written together share their creation time, to the microsecond: some were.
        let mut times: Vec<&str> = answers
            .iter()
            .filter_map(|(.., t)| t.as_ref().ok().map(|t| t.created_at.as_str()))
            .collect();
        times.sort();
        assert!(
            times.windows(2).any(|w| w[0] == w[1]),
            "no two tickets were written together: {times:?}"
        );
        // Each id holds what its caller asked for, and has its one CREATED row (checked
        // before the rename, which renames draft tickets too).
        for (id, name, n) in check(answers, moana) {
            let stored = g.get_ticket(id).await.unwrap();
            assert_eq!(
                (
                    &stored.ticket.platform_name,
                    &stored.ticket.payload_config["n"]
                ),
                (&name, &json!(n)),
                "ticket {id}"
            );
            assert_eq!(stored.history.len(), 1, "ticket {id}");
            assert_eq!(stored.history[0].detail.as_deref(), Some(name.as_str()));
            made.push(id);
        }
    }
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 96, "96 distinct tickets");
    let all = g
        .list_tickets(
            &op,
            ListTicketsInput {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        all.tickets.len(),
        1 + 4 + 96,
        "the seeded ticket and 100 more"
    );
}
