//! Self-healing: each rule fixer on a realistic platform error, risk classes, and the whole
//! loop against the fake platform (deploy refused -> SAFE proposal -> approved over REST ->
//! QA -> deploy succeeds with one campaign), auto-apply limits, reject, roles, concurrent and
//! stale approvals, and the audit trail.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use common::fake_platforms::Fault;
use common::from_json as from;
use common::rest::ok200;
use common::*;
use omnitraffick::auth::{Principal, Role};
use omnitraffick::deploy::DeploySettings;
use omnitraffick::domain::{Platform, ProposalStatus, Risk};
use omnitraffick::healing::fixers::{self, FixContext};
use omnitraffick::healing::{AutoApply, HealOutcome};
use omnitraffick::platforms::client::{ErrorClass, PlatformError};
use omnitraffick::startup::AppServices;

fn err(
    platform: Platform,
    code: &str,
    subcode: Option<&str>,
    message: &str,
    body: Value,
) -> PlatformError {
    PlatformError {
        class: ErrorClass::Permanent,
        code: Some(code.into()),
        subcode: subcode.map(str::to_owned),
        message: message.into(),
        body: Some(body),
        ..PlatformError::empty(platform)
    }
}

fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34,
            "interests": [{"id": "6003107902433", "name": "Movies"}, {"id": "6003020834693", "name": "Retired interest"}]},
        "bidding": {"strategy": "COST_CAP", "bid_amount": "2.50"},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.", "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE", "image_url": "https://cdn.example.com/moana.jpg"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}, "campaign": {"daily_budget": 5000}, "adset": {"optimization_goal": "APP_INSTALLS", "targeting": {"connections": [{"id": "1"}]}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc"}]}}
        }
    })
}

fn cx(payload: &Value) -> FixContext<'_> {
    FixContext {
        payload,
        market_country: "US",
        currency: "USD",
        platform_name: "DIS_US_GADS_2027_Moana",
        ticket_id: 7,
    }
}

fn apply(payload: &Value, patch: &Value) -> Value {
    omnitraffick::healing::apply_patch(payload, patch).expect("patch applies")
}

#[test]
fn each_rule_fixer_answers_its_error() {
    let p = spec();
    // 100/1487694: the deprecated interest named in the message is removed; one remains.
    let e = err(
        Platform::Meta,
        "100",
        Some("1487694"),
        "Invalid parameter",
        json!({"error": {"code": 100, "error_subcode": 1487694,
        "error_user_title": "Targeting Option No Longer Available", "error_user_msg": "The interest 6003020834693 is no longer available for targeting."}}),
    );
    let f = fixers::propose(&e, &cx(&p)).expect("fix");
    assert_eq!(f.risk, Risk::Safe);
    let after = apply(&p, &f.patch);
    assert_eq!(
        after["targeting"]["interests"],
        json!([{"id": "6003107902433", "name": "Movies"}])
    );
    assert_eq!(
        omnitraffick::healing::classify_risk(&p, &after, "USD", &f.refused_interests),
        Risk::Safe
    );

    // 100/2446394 without an id: every interest goes, which widens the audience.
    let e = err(
        Platform::Meta,
        "100",
        Some("2446394"),
        "Invalid detailed targeting",
        json!({}),
    );
    let f = fixers::propose(&e, &cx(&p)).expect("fix");
    assert_eq!(f.risk, Risk::TargetingWidening);
    assert!(
        apply(&p, &f.patch)["targeting"]["interests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // 100/1885621: the campaign budget override goes.
    let f = fixers::propose(
        &err(
            Platform::Meta,
            "100",
            Some("1885621"),
            "Invalid parameter",
            json!({}),
        ),
        &cx(&p),
    )
    .unwrap();
    assert!(
        apply(&p, &f.patch)["overrides"]["meta"]["campaign"]
            .get("daily_budget")
            .is_none()
    );
    assert_eq!(f.risk, Risk::Safe);

    // 100/1815857: lowest cost, a spend risk.
    let f = fixers::propose(
        &err(
            Platform::Meta,
            "100",
            Some("1815857"),
            "Invalid parameter",
            json!({}),
        ),
        &cx(&p),
    )
    .unwrap();
    assert_eq!(
        apply(&p, &f.patch)["bidding"],
        json!({"strategy": "LOWEST_COST"})
    );
    assert_eq!(f.risk, Risk::SpendIncrease);

    // 100/1885364: the market's country.
    let mut nowhere = p.clone();
    nowhere["targeting"]
        .as_object_mut()
        .unwrap()
        .remove("countries");
    let f = fixers::propose(
        &err(
            Platform::Meta,
            "100",
            Some("1885364"),
            "Missing Target Audience Location",
            json!({}),
        ),
        &cx(&nowhere),
    )
    .unwrap();
    assert_eq!(
        apply(&nowhere, &f.patch)["targeting"]["countries"],
        json!(["US"])
    );

    // 100/2490408: the optimisation-goal override goes.
    let f = fixers::propose(
        &err(
            Platform::Meta,
            "100",
            Some("2490408"),
            "Invalid parameter",
            json!({}),
        ),
        &cx(&p),
    )
    .unwrap();
    assert!(
        apply(&p, &f.patch)["overrides"]["meta"]["adset"]
            .get("optimization_goal")
            .is_none()
    );

    // Advantage audience flag required.
    let e = err(
        Platform::Meta,
        "100",
        None,
        "Invalid parameter",
        json!({"error": {"error_user_title": "Advantage Audience Flag Required"}}),
    );
    let f = fixers::propose(&e, &cx(&p)).unwrap();
    assert_eq!(
        apply(&p, &f.patch)
            .pointer("/overrides/meta/adset/targeting/targeting_automation/advantage_audience"),
        Some(&json!(0))
    );

    // Unsupported targeting option: dropped, and that widens.
    let e = err(
        Platform::Meta,
        "100",
        None,
        "(#100) Unsupported targeting option: connections",
        json!({}),
    );
    let f = fixers::propose(&e, &cx(&p)).unwrap();
    assert!(
        apply(&p, &f.patch)
            .pointer("/overrides/meta/adset/targeting/connections")
            .is_none()
    );
    assert_eq!(f.risk, Risk::TargetingWidening);

    // 100/1885272: raised to the stated minimum, a spend increase.
    let e = err(
        Platform::Meta,
        "100",
        Some("1885272"),
        "Invalid parameter",
        json!({"error": {"error_user_title": "Budget Is Too Low", "error_user_msg": "The budget for this ad set must be at least $25.00 USD."}}),
    );
    let f = fixers::propose(&e, &cx(&p)).unwrap();
    assert_eq!(apply(&p, &f.patch)["budget"]["amount"], "25.00");
    assert_eq!(f.risk, Risk::SpendIncrease);

    // TikTok 40002 budget minimum.
    let e = err(
        Platform::Tiktok,
        "40002",
        None,
        "budget: Your budget setting must not be less than 20.00 USD.",
        json!({}),
    );
    let f = fixers::propose(&e, &cx(&p)).unwrap();
    assert_eq!(apply(&p, &f.patch)["budget"]["amount"], "20.00");

    // Google budget below the daily minimum, read from the error details.
    let body = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"errors": [{"errorCode": {"campaignBudgetError": "BUDGET_BELOW_PER_DAY_MINIMUM"},
        "details": {"budgetPerDayMinimumErrorDetails": {"currencyCode": "USD", "budgetPerDayMinimumMicros": "1000000", "minimumBudgetAmountMicros": "31000000"}}}]}]}});
    let f = fixers::propose(
        &err(
            Platform::GoogleAds,
            "campaignBudgetError",
            Some("BUDGET_BELOW_PER_DAY_MINIMUM"),
            "Budget below minimum",
            body,
        ),
        &cx(&p),
    )
    .unwrap();
    assert_eq!(apply(&p, &f.patch)["budget"]["amount"], "31.00");

    // Google duplicate campaign name: a distinct name through the override.
    let f = fixers::propose(
        &err(
            Platform::GoogleAds,
            "campaignError",
            Some("DUPLICATE_CAMPAIGN_NAME"),
            "dup",
            json!({}),
        ),
        &cx(&p),
    )
    .unwrap();
    assert_eq!(
        apply(&p, &f.patch).pointer("/overrides/google_ads/campaign/name"),
        Some(&json!("DIS_US_GADS_2027_Moana_T7"))
    );
    assert_eq!(f.risk, Risk::Safe);

    // Not fixable by rule.
    assert!(
        fixers::propose(
            &err(
                Platform::Meta,
                "190",
                None,
                "Invalid OAuth access token.",
                json!({})
            ),
            &cx(&p)
        )
        .is_none()
    );
}

/// Channels META and TIKTOK, fast retries, `auto_apply`, an HTTP server; no workers (the
/// tests that need them start them).
async fn world(auto_apply: AutoApply) -> World {
    world_with(auto_apply, None).await
}

async fn world_with(auto_apply: AutoApply, llm: Option<&common::fake_openai::FakeOpenAi>) -> World {
    let llm = llm.map(|f| omnitraffick::llm::LlmConfig {
        base_url: f.url.clone(),
        api_key: omnitraffick::platforms::client::Secret::new("sk-test"),
        embedding_model: None,
        chat_model: Some("gpt-4o-mini".into()),
    });
    World::build()
        .timeout(Duration::from_millis(500))
        .channels(&[META, TIKTOK])
        .options(move |o| {
            o.deploy = DeploySettings {
                backoff_base: Duration::from_millis(20),
                backoff_max: Duration::from_millis(50),
                poll_every: Duration::from_millis(30),
                lease: Duration::from_secs(2),
                ..DeploySettings::default()
            };
            o.auto_apply = auto_apply;
            o.llm = llm;
        })
        .server()
        .start()
        .await
}

/// A READY_FOR_API ticket with two interests and no extra overrides.
async fn ticket(s: &AppServices, channel: &str, name: &str, budget: &str) -> i64 {
    let mut p = spec();
    p["budget"]["amount"] = json!(budget);
    p["overrides"] = json!({"meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}}, "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc"}]}}});
    p.as_object_mut().unwrap().remove("bidding");
    ready_ticket(s, channel, name, p).await
}

#[tokio::test]
async fn refused_interest_is_healed_after_approval_over_rest_with_one_campaign() {
    let w = world(AutoApply::None).await;
    let t = ticket(&w.s, "META", "Moana Launch", "19.99").await;
    w.fake.reject_with(json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1487694,
        "is_transient": false, "error_user_title": "Targeting Option No Longer Available",
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Aheal1"}));
    w.fake.fail_next("adset", Fault::Reject);
    let workers = Workers::start(&w.s);
    queue_deploy(&w.s, t).await;
    wait_status(&w.s, t, "FIX_PROPOSED").await;

    let ops = w.rest(Role::Ops).await;
    let planner = w.rest(Role::Planner).await;
    let list = ok200(ops.fixes("status=PENDING_REVIEW").await);
    let p = &list["proposals"][0];
    assert_eq!(p["ticket_id"], t);
    assert_eq!(p["risk"], "SAFE");
    assert_eq!(p["source"], "RULE:meta_refused_interest");
    assert_eq!(p["error_key"], "META:100:1487694");
    let id = p["id"].as_i64().unwrap();
    let one = ok200(planner.fix(id).await);
    assert!(
        one["diff"][0]
            .as_str()
            .unwrap()
            .starts_with("remove /targeting/interests/1"),
        "{one}"
    );
    assert_eq!(one["qa_report"]["outcome"], "pass");

    // A planner may read but not decide.
    assert_eq!(planner.approve_fix(id).await.0, 403);
    ok200(
        ops.approve_fix_with(id, &json!({"reason": "interest is gone"}))
            .await,
    );
    wait_status(&w.s, t, "TRAFFICKED_SUCCESS").await;
    assert_eq!(
        w.fake.objects("campaign").len(),
        1,
        "the campaign made before the failure was reused"
    );
    let adset = &w.fake.objects("adset")[0];
    assert_eq!(
        adset.body["targeting"]["flexible_spec"][0]["interests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let done = ok200(ops.fix(id).await);
    assert_eq!(done["status"], "APPLIED");
    let actions: Vec<&str> = done["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["PROPOSED", "APPROVED", "APPLIED"]);
    assert!(
        done["audit"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"].is_string() && a["at"].is_string())
    );
    let tk = ok200(planner.ticket(t).await);
    assert_eq!(tk["status"], "TRAFFICKED_SUCCESS", "{tk}");
    let (status, body) = ops.get("/api/v1/fixes/abc").await;
    assert_eq!(status, 422, "{body}");
    let (status, m) = Rest::new(w.server(), None).metrics().await;
    assert_eq!(status, 200, "{m}");
    assert!(
        m.contains("omnitraffick_fix_proposals{status=\"APPLIED\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("omnitraffick_deploy_runs{state=\"SUCCEEDED\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("omnitraffick_platform_requests{outcome=\"PERMANENT\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("# TYPE omnitraffick_tool_call_duration_seconds histogram"),
        "{m}"
    );
    assert_eq!(ops.fix(999).await.0, 404);
    workers.stop().await;
    w.finish().await;
}

#[tokio::test]
async fn budget_raises_are_never_auto_applied_and_can_be_rejected() {
    let w = world(AutoApply::Safe).await;
    let t = ticket(&w.s, "TIKTOK", "Moana TikTok", "19.99").await;
    w.fake.fail_next("adgroup", Fault::Reject);
    let workers = Workers::start(&w.s);
    queue_deploy(&w.s, t).await;
    wait_status(&w.s, t, "FIX_PROPOSED").await;
    let list =
        w.s.healing
            .list(&Principal::local_operator(), from(json!({"ticket_id": t})))
            .await
            .unwrap();
    let p = &list.proposals[0];
    assert_eq!(p.risk, Risk::SpendIncrease);
    assert_eq!(
        p.status,
        ProposalStatus::PendingReview,
        "a spend increase waits for a person even with auto_apply = safe"
    );
    assert_eq!(p.payload_after["budget"]["amount"], "20.00");

    let admin = w.rest(Role::Admin).await;
    let (status, body) = admin.reject_fix(p.id, &json!({})).await;
    assert_eq!(status, 422, "a rejection needs a reason: {body}");
    ok200(
        admin
            .reject_fix(p.id, &json!({"reason": "budget is fixed by finance"}))
            .await,
    );
    wait_status(&w.s, t, "DEPLOY_FAILED").await;
    let (status, body) = admin.approve_fix(p.id).await;
    assert_eq!(
        status, 409,
        "a rejected proposal cannot be approved: {body}"
    );
    workers.stop().await;
    w.finish().await;
}

#[tokio::test]
async fn safe_fixes_are_auto_applied_when_the_policy_allows() {
    let w = world(AutoApply::Safe).await;
    let t = ticket(&w.s, "META", "Moana Auto", "19.99").await;
    w.fake.reject_with(
        json!({"message": "Invalid parameter", "code": 100, "error_subcode": 1487694,
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Aauto"}),
    );
    w.fake.fail_next("adset", Fault::Reject);
    let workers = Workers::start(&w.s);
    queue_deploy(&w.s, t).await;
    wait_status(&w.s, t, "TRAFFICKED_SUCCESS").await;
    let list =
        w.s.healing
            .list(&Principal::local_operator(), from(json!({"ticket_id": t})))
            .await
            .unwrap();
    assert_eq!(list.proposals[0].status, ProposalStatus::Applied);
    let view = w.s.healing.get(list.proposals[0].id).await.unwrap();
    assert_eq!(view.audit[1].actor, "auto-heal");
    assert_eq!(w.fake.objects("campaign").len(), 1);
    workers.stop().await;
    w.finish().await;
}

#[tokio::test]
async fn concurrent_and_stale_approvals_get_409_and_repeat_errors_escalate() {
    let w = world(AutoApply::None).await;
    let t = ticket(&w.s, "META", "Moana Race", "19.99").await;
    w.fake.reject_with(
        json!({"message": "Invalid parameter", "code": 100, "error_subcode": 1487694,
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Arace"}),
    );
    w.fake.fail_next("adset", Fault::Reject);
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w".into());
    assert_eq!(
        d.process(run).await.unwrap(),
        omnitraffick::deploy::RunOutcome::Failed
    );
    let HealOutcome::Proposed { id, .. } = w.s.healing.on_deploy_failed(t).await.unwrap() else {
        panic!("no proposal")
    };

    // An assistant's own proposal goes through the same QA; a patch that fails QA is kept as QA_FAILED.
    let bad = w.s.healing.propose_fix(&Principal::local_operator(), from(json!({"ticket_id": t,
        "patch": [{"op": "replace", "path": "/targeting/interests/0/id", "value": "6003139266461"}], "rationale": "swap in alcohol"}))).await.unwrap();
    assert_eq!(bad.proposal.status, ProposalStatus::QaFailed);
    let e =
        w.s.healing
            .propose_fix(
                &Principal::local_operator(),
                from(json!({"ticket_id": t, "patch": {"op": "oops"}, "rationale": "x"})),
            )
            .await
            .unwrap_err();
    assert_eq!(e.field(), Some("patch"));

    let ops = w.rest(Role::Ops).await;
    let (a, b) = tokio::join!(ops.approve_fix(id), ops.approve_fix(id));
    let mut codes = [a.0.as_u16(), b.0.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409], "{} / {}", a.1, b.1);

    // The deploy is queued again; this time the platform refuses the same way: escalate.
    w.fake.fail_next("adset", Fault::Reject);
    let st = w.s.deploy.status(t).await.unwrap();
    let run = st.run.unwrap().id;
    assert_eq!(
        d.process(run).await.unwrap(),
        omnitraffick::deploy::RunOutcome::Failed
    );
    assert!(matches!(
        w.s.healing.on_deploy_failed(t).await.unwrap(),
        HealOutcome::Escalated(_)
    ));
    let history = w.s.governance.get_ticket(t).await.unwrap().history;
    assert_eq!(history.last().unwrap().event, "HEALING_ESCALATED");

    // Stale: a proposal made before the ticket changed cannot be approved.
    let t2 = ticket(&w.s, "META", "Moana Stale", "19.99").await;
    w.fake.fail_next("adset", Fault::Reject);
    let run = queue_deploy(&w.s, t2).await;
    assert_eq!(
        d.process(run).await.unwrap(),
        omnitraffick::deploy::RunOutcome::Failed
    );
    let HealOutcome::Proposed { id: id2, .. } = w.s.healing.on_deploy_failed(t2).await.unwrap()
    else {
        panic!()
    };
    sqlx::query("UPDATE tickets SET version = version + 1 WHERE id = $1")
        .bind(t2)
        .execute(w.db.pool())
        .await
        .unwrap();
    let (status, v) = ops.approve_fix(id2).await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{v}"
    );
    w.finish().await;
}

/// A ticket the platform refused with an error no rule fixes (Meta 100/1815290).
async fn refused_ticket(w: &World, name: &str) -> i64 {
    let t = ticket(&w.s, "META", name, "19.99").await;
    w.fake.reject_with(json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1815290,
        "error_user_title": "Objective Invalid For Targeting", "error_user_msg": "The objective is not valid for this targeting.", "fbtrace_id": "Allm"}));
    w.fake.fail_next("campaign", Fault::Reject);
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w".into());
    assert_eq!(
        d.process(run).await.unwrap(),
        omnitraffick::deploy::RunOutcome::Failed
    );
    t
}

#[tokio::test]
async fn the_model_proposes_a_patch_when_no_rule_applies() {
    let fake = common::fake_openai::FakeOpenAi::start().await;
    let w = world_with(AutoApply::Safe, Some(&fake)).await;
    let set = |reply: &str| fake.state.lock().unwrap().chat_reply = Some(reply.to_owned());

    // A valid patch: proposed, and its risk comes from the change (removing an interest widens).
    set(
        r#"Here you go: {"patch": [{"op": "remove", "path": "/targeting/interests/1"}], "rationale": "The retired interest conflicts with the objective."}"#,
    );
    let t = refused_ticket(&w, "Llm One").await;
    let HealOutcome::Proposed { id, status, risk } = w.s.healing.on_deploy_failed(t).await.unwrap()
    else {
        panic!("no proposal")
    };
    assert_eq!(
        (status.as_str(), risk.as_str()),
        ("PENDING_REVIEW", "TARGETING_WIDENING")
    );
    let v = w.s.healing.get(id).await.unwrap();
    assert_eq!(v.proposal.source, "LLM");
    let prompt = fake.requests("chat").last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(prompt.contains("1815290") && prompt.contains("payload_config"));

    // Not a patch: recorded as unusable, nothing applied.
    set("I think you should change the objective to awareness.");
    let t = refused_ticket(&w, "Llm Two").await;
    assert!(matches!(
        w.s.healing.on_deploy_failed(t).await.unwrap(),
        HealOutcome::NoFix(_)
    ));
    let h = w.s.governance.get_ticket(t).await.unwrap();
    assert_eq!(h.history.last().unwrap().event, "LLM_FIX_UNUSABLE");
    assert_eq!(h.ticket.status.as_str(), "DEPLOY_FAILED");

    // A patch that fails QA (an alcohol interest for a family-friendly brand): kept as QA_FAILED.
    set(
        r#"{"patch": [{"op": "replace", "path": "/targeting/interests/1/id", "value": "6003139266461"}], "rationale": "Use a supported interest."}"#,
    );
    let t = refused_ticket(&w, "Llm Three").await;
    let HealOutcome::Proposed { status, .. } = w.s.healing.on_deploy_failed(t).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(status, ProposalStatus::QaFailed);
    assert_eq!(
        w.s.governance
            .get_ticket(t)
            .await
            .unwrap()
            .ticket
            .status
            .as_str(),
        "DEPLOY_FAILED"
    );

    // A patch that raises the budget is SPEND_INCREASE whatever the model says, and waits.
    set(
        r#"{"patch": [{"op": "replace", "path": "/budget/amount", "value": "99.00"}], "rationale": "Safe tweak."}"#,
    );
    let t = refused_ticket(&w, "Llm Four").await;
    let HealOutcome::Proposed { status, risk, .. } = w.s.healing.on_deploy_failed(t).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (status.as_str(), risk.as_str()),
        ("PENDING_REVIEW", "SPEND_INCREASE")
    );
    w.finish().await;
}

/// JSON nested `depth` objects deep: {"a": {"a": ... 1}}.
fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}

#[tokio::test]
async fn review_queue_survives_deep_patches_and_unreadable_rows() {
    let w = world(AutoApply::None).await;
    let t = ticket(&w.s, "META", "Moana Deep", "19.99").await;
    w.fake.reject_with(json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1487694,
        "is_transient": false, "error_user_title": "Targeting Option No Longer Available",
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Adeep1"}));
    w.fake.fail_next("adset", Fault::Reject);
    let workers = Workers::start(&w.s);
    let op = Principal::local_operator();
    queue_deploy(&w.s, t).await;
    wait_status(&w.s, t, "FIX_PROPOSED").await;
    let before = w.s.governance.get_ticket(t).await.unwrap().ticket.version;
    let listed = |s: AppServices| async move {
        s.healing
            .list(&Principal::local_operator(), from(json!({"ticket_id": t})))
            .await
            .unwrap()
            .proposals
    };
    assert_eq!(listed(w.s.clone()).await.len(), 1);

    // An assistant's patch whose value nests ~118 deep: refused, naming the field, with
    // nothing written (no proposal, the ticket untouched).
    let propose_deep = |depth: usize| {
        let (s, op) = (w.s.clone(), op.clone());
        async move {
            s.healing
                .propose_fix(
                    &op,
                    from(json!({"ticket_id": t, "rationale": "deep",
                        "patch": [{"op": "add", "path": "/overrides/meta/creative/x", "value": nested(depth)}]})),
                )
                .await
                .unwrap_err()
        }
    };
    let e = propose_deep(118).await;
    assert_eq!(e.code(), "VALIDATION", "{e}");
    assert!(
        e.field().is_some_and(|f| f.starts_with("patch[0].value")),
        "{e}"
    );
    // A patch that is itself shallow enough but makes the payload too deep is refused too.
    let e = propose_deep(13).await;
    assert!(
        e.field()
            .is_some_and(|f| f.starts_with("payload_config.overrides.meta.creative.x")),
        "{e}"
    );
    assert_eq!(listed(w.s.clone()).await.len(), 1);
    assert_eq!(
        w.s.governance.get_ticket(t).await.unwrap().ticket.version,
        before
    );

    // A row stored unreadable (too deep for serde_json, as an older version could write it)
    // is listed and shown as damaged; the page and the other proposals still load, and it
    // cannot be approved.
    let id = listed(w.s.clone()).await[0].id;
    sqlx::query("UPDATE fix_proposals SET payload_after = $1 WHERE id = $2")
        .bind(nested(140).to_string())
        .bind(id)
        .execute(w.db.pool())
        .await
        .unwrap();
    let ops = w.rest(Role::Ops).await;
    let page = ok200(ops.fixes("").await);
    assert_eq!(page["proposals"][0]["id"], id);
    assert!(
        page["proposals"][0]["damaged"]
            .as_str()
            .is_some_and(|d| d.contains("payload_after")),
        "{page}"
    );
    ok200(ops.fix(id).await);
    let (status, body) = ops.approve_fix_with(id, &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unreadable")),
        "{body}"
    );
    workers.stop().await;
}

/// A deploy that failed without its announcement reaching self-healing (the worker died in
/// between) is found by the sweep and healed, once.
#[tokio::test]
async fn a_failure_whose_announcement_was_lost_is_swept_to_healing_once() {
    let w = world(AutoApply::None).await;
    let t = ticket(&w.s, "META", "Lost Announcement", "19.99").await;
    w.fake.reject_with(json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1487694,
        "is_transient": false, "error_user_title": "Targeting Option No Longer Available",
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Asweep1"}));
    w.fake.fail_next("adset", Fault::Reject);
    // The run fails here, outside any worker: nothing announces it.
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("test-worker".into());
    for _ in 0..20 {
        match d.process(run).await.expect("process") {
            omnitraffick::deploy::RunOutcome::Failed => break,
            omnitraffick::deploy::RunOutcome::RetryIn(wait) => tokio::time::sleep(wait).await,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    wait_status(&w.s, t, "DEPLOY_FAILED").await;
    let swept =
        w.s.healing
            .sweep_unheard_failures(&w.s.jobs, Duration::ZERO)
            .await
            .expect("sweep");
    assert_eq!(swept, 1);
    let workers = Workers::start(&w.s);
    wait_status(&w.s, t, "FIX_PROPOSED").await;
    // Healed: the next sweep finds nothing.
    let again =
        w.s.healing
            .sweep_unheard_failures(&w.s.jobs, Duration::ZERO)
            .await
            .expect("sweep");
    assert_eq!(again, 0);
    workers.stop().await;
    w.finish().await;
}
