//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`;
//! `.ci/run` installs them), driven over WebDriver against a server with fake ad platforms:
//! - ops signs in, sees the pending fix proposal, opens its diff, approves it and watches the
//!   ticket's card move across the board as the deploy runs, without a reload;
//! - a planner asks the copilot, gets a cited answer and follows the citation to the page;
//! - a viewer sees the proposal without an approve button, and the REST call is refused too;
//! - a bad key gets a clear sign-in error;
//! - admin renames a code: the rename impact is shown first and nothing changes on cancel.
//!
//! Every view is saved as a screenshot in `target/console-screenshots/` (light, dark and
//! narrow), and the browser's log must hold no Content-Security-Policy violation or script
//! error. Without Chromium the tests are reported as skipped, except under CI=true.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use common::fake_platforms::Fault;
use common::rest::ok200;
use common::*;
use omnitraffick::auth::Role;
use omnitraffick::deploy::DeploySettings;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(30);

/// A chromedriver process and a browser session on it; both end on drop.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
    name: &'static str,
}

#[derive(Clone, Copy)]
enum Look {
    Light,
    Dark,
    Narrow,
}

/// A headless Chromium, or `None` (skipped) when it is not installed outside CI.
async fn browser(name: &'static str, look: Look) -> Option<Browser> {
    let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| DRIVER.into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    if !std::path::Path::new(&driver_path).exists() || !std::path::Path::new(&chromium).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Chromium and chromedriver are required under CI=true (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED {name}: install chromium and chromium-driver to run the console tests");
        return None;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("port").port()
    };
    let driver = tokio::process::Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        // Its own process group, so the Chromium it starts can be killed with it even when a
        // failing test never closes the session (see `Drop for Browser`).
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let (w, h) = match look {
        Look::Narrow => (390, 844),
        _ => (1360, 900),
    };
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-extensions".into(),
        format!("--window-size={w},{h}"),
    ];
    if let Look::Dark = look {
        args.push("--force-dark-mode".into());
        args.push("--blink-settings=preferredColorScheme=0".into());
    }
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {"binary": chromium, "args": args},
        "goog:loggingPrefs": {"browser": "ALL"}
    }))
    .expect("capabilities");
    let url = format!("http://127.0.0.1:{port}");
    let mut last = String::new();
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    name,
                });
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start a Chromium session: {last}");
}

impl Browser {
    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.shot(&format!("FAILED-{}", self.name)).await;
                panic!("{css} did not appear: {e}");
            }
        }
    }

    async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("query")
            .is_empty()
    }

    /// Wait until `css` exists and its text satisfies `ok`; its text.
    async fn text_until(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if ok(&t) {
                    return t;
                }
                seen = t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shot(&format!("FAILED-{}", self.name)).await;
        panic!("{css}: expected {what}, last saw {seen:?}");
    }

    /// Whether `css` exists and is shown.
    async fn visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.expect("typing");
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    async fn sign_in(&self, base: &str, key: &str) {
        self.open(base).await;
        self.type_into("#api-key", key).await;
        self.click("#signin-submit").await;
        self.find("#whoami").await;
    }

    /// The page's form controls all have a label, its buttons and links a name, its images
    /// an alt text, and it has one h1 with no heading level skipped: what a screen reader
    /// needs. Fails with the offending elements.
    async fn assert_accessible(&self, view: &str) {
        let found = self
            .js(r#"
                const bad = [];
                const name = (e) => (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.textContent || e.title || '').trim();
                for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
                    if (e.offsetParent === null) continue;
                    if (!(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                        bad.push('unlabelled ' + e.outerHTML.slice(0, 80));
                }
                for (const e of document.querySelectorAll('button, a[href]')) {
                    if (e.offsetParent === null) continue;
                    if (!name(e)) bad.push('nameless ' + e.outerHTML.slice(0, 80));
                }
                for (const e of document.querySelectorAll('img')) {
                    if (!e.hasAttribute('alt')) bad.push('no alt ' + e.outerHTML.slice(0, 80));
                }
                const hs = [...document.querySelectorAll('h1, h2, h3, h4')].filter((h) => h.offsetParent !== null);
                const h1s = hs.filter((h) => h.tagName === 'H1').length;
                if (h1s !== 1) bad.push(h1s + ' visible h1 elements');
                let last = 0;
                for (const h of hs) {
                    const l = Number(h.tagName[1]);
                    if (l > last + 1) bad.push('heading ' + h.tagName + ' after h' + last + ': ' + h.textContent.trim().slice(0, 40));
                    last = l;
                }
                if (!document.documentElement.lang) bad.push('no lang on <html>');
                return bad;
            "#)
            .await;
        assert_eq!(found, json!([]), "accessibility of {view}");
    }

    /// Save the page as `target/console-screenshots/<name>.png`.
    async fn shot(&self, name: &str) {
        let Ok(png) = self.client.screenshot().await else {
            return;
        };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }

    /// The browser log must hold no CSP violation and no script error.
    async fn assert_clean_log(&self) {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        let bad: Vec<&Value> = log
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| {
                        let msg = e["message"].as_str().unwrap_or("");
                        // 4xx answers the tests cause on purpose are logged as network
                        // errors; those are not faults of the page.
                        e["level"] == "SEVERE"
                            && !msg.contains("the server responded with a status of")
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(bad.is_empty(), "browser log of {}: {bad:#?}", self.name);
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
        // Dropping kills the driver and what is left of its browser.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver and every Chromium process it started share its process group.
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// chromedriver's log endpoint (`POST /session/{id}/se/log`), which WebDriver lacks.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type": "browser"}"#.into()))
    }
}

/// A world whose deploys retry fast, with a Meta ticket whose deploy the platform refused
/// (a retired interest), so self-healing proposed a fix that waits for review. Workers stop
/// once the proposal exists. Returns the world, the ticket and the proposal.
async fn world_with_proposal() -> (World, i64, i64) {
    let mut w = World::build()
        .timeout(Duration::from_millis(500))
        .channels(&[META, TIKTOK])
        .options(|o| {
            o.deploy = DeploySettings {
                backoff_base: Duration::from_millis(20),
                backoff_max: Duration::from_millis(50),
                poll_every: Duration::from_millis(30),
                lease: Duration::from_secs(2),
                ..DeploySettings::default()
            };
        })
        .server()
        .start()
        .await;
    // Other tickets, so the board has more than one column to show.
    w.ready_ticket("TIKTOK", "Summer Teaser", spec()).await;
    draft_ticket(
        &w.s,
        "META",
        "Winter Draft",
        json!({"objective": "TRAFFIC"}),
    )
    .await;
    let t = w.ready_ticket("META", "Moana Launch", spec()).await;
    w.fake.reject_with(json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1487694,
        "is_transient": false, "error_user_title": "Targeting Option No Longer Available",
        "error_user_msg": "Interest 6003020834693 is no longer available.", "fbtrace_id": "Aconsole1"}));
    w.fake.fail_next("adset", Fault::Reject);
    w.start_workers();
    w.queue_deploy(t).await;
    w.wait_status(t, "FIX_PROPOSED").await;
    w.stop_workers().await;
    let list = ok200(w.rest(Role::Ops).await.fixes("status=PENDING_REVIEW").await);
    let fix = list["proposals"][0]["id"]
        .as_i64()
        .expect("a pending proposal");
    (w, t, fix)
}

/// The deployable spec with two interests; Meta refuses the second (retired).
fn spec() -> Value {
    let mut s = deployable_spec();
    s["targeting"]["interests"] = json!([{"id": "6003107902433", "name": "Movies"}, {"id": "6003020834693", "name": "Retired interest"}]);
    s
}

fn card_in(column: &str, ticket: i64) -> String {
    format!("section.column[data-column=\"{column}\"] article.card[data-ticket-id=\"{ticket}\"]")
}

#[tokio::test]
async fn ops_approves_a_fix_and_watches_the_card_move_without_a_reload() {
    let Some(b) = browser("ops", Look::Light).await else {
        return;
    };
    let (mut w, t, fix) = world_with_proposal().await;
    let base = w.server().url("/");
    let ops = key(&w.server().db, Role::Ops).await;
    b.sign_in(&base, &ops).await;
    let who = b
        .text_until("#whoami", "the key and role", |t| t.contains("ops"))
        .await;
    assert!(who.contains("test-ops"), "{who}");

    // The board: the card waits in "Fix proposed", the others in their columns.
    b.open(&format!("{base}#/board")).await;
    b.find(&card_in("fix_proposed", t)).await;
    b.find("section.column[data-column=\"ready\"] article.card")
        .await;
    b.find("section.column[data-column=\"draft\"] article.card")
        .await;
    b.text_until("#live-status", "Live", |s| s.trim() == "Live")
        .await;
    b.shot("board-light").await;
    b.assert_accessible("the board").await;

    // The review queue: the proposal, its diff and risk; approve it.
    b.click("a[href=\"#/review\"]").await;
    b.click(&format!("a.review-item[data-fix-id=\"{fix}\"]"))
        .await;
    let diff = b
        .text_until("#review-detail .diff", "the patch", |d| !d.is_empty())
        .await;
    assert!(diff.contains("remove /targeting/interests/1"), "{diff}");
    let risk = b
        .text_until("#risk-badge", "a risk", |r| !r.is_empty())
        .await;
    assert!(risk.contains("SAFE"), "{risk}");
    b.shot("review-detail").await;
    b.assert_accessible("the review detail").await;
    b.type_into("#decision-reason", "the interest is retired")
        .await;
    b.click("#approve").await;
    let result = b
        .text_until("#decision-result", "the decision", |r| !r.is_empty())
        .await;
    assert!(!result.is_empty());
    b.shot("review-approved").await;

    // Back on the board (the workers are stopped, so the deploy waits in the queue), a
    // marker on the page proves that what follows happens without a reload.
    b.click("a[href=\"#/board\"]").await;
    b.find(&card_in("deploying", t)).await;
    b.text_until("#live-status", "Live", |s| s.trim() == "Live")
        .await;
    b.js("window.__noReload = 42; return true;").await;
    w.start_workers();
    b.find(&card_in("live", t)).await;
    assert_eq!(b.js("return window.__noReload;").await, json!(42));
    assert!(!b.exists(&card_in("fix_proposed", t)).await);
    b.shot("board-after-deploy").await;

    // The ticket page: name, history, QA, payloads and deploy attempts.
    b.open(&format!("{base}#/tickets/{t}")).await;
    let name = b
        .text_until("#ticket-name", "the name", |n| !n.is_empty())
        .await;
    assert!(name.contains("MoanaLaunch"), "{name}");
    b.text_until("#ticket-history", "history", |h| h.contains("FIX_PROPOSED"))
        .await;
    b.text_until("#deploys", "the refused attempt", |d| {
        d.contains("no longer available") || d.contains("1487694")
    })
    .await;
    b.text_until("#payloads", "request bodies", |p| {
        p.contains("adset") || p.contains("campaign")
    })
    .await;
    b.shot("ticket").await;
    b.assert_accessible("the ticket page").await;
    b.assert_clean_log().await;
    b.close().await;
    w.finish().await;
}

#[tokio::test]
async fn planner_gets_a_cited_answer_and_follows_the_citation() {
    let Some(b) = browser("planner", Look::Dark).await else {
        return;
    };
    let w = World::build().server().start().await;
    for s in omnitraffick::copilot::SAMPLES {
        w.s.copilot
            .ensure_sample_brands()
            .await
            .expect("sample brands");
        w.s.copilot
            .ingest(s.brand_code, s.file_name, s.bytes.to_vec())
            .await
            .expect("sample guidelines ingested");
    }
    let base = w.server().url("/");
    let planner = key(&w.server().db, Role::Planner).await;
    b.sign_in(&base, &planner).await;
    b.open(&format!("{base}#/board")).await;
    b.find("#board").await;
    b.shot("board-dark").await;

    b.click("a[href=\"#/copilot\"]").await;
    b.find("select#copilot-brand option[value=\"AUR\"]").await;
    b.js("const s = document.querySelector('#copilot-brand'); s.value = 'AUR'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    b.type_into("#copilot-question", "Can we target kids under 13?")
        .await;
    b.click("#copilot-ask").await;
    let link = b.find("#copilot-log .answer ol.citations li a").await;
    let href = link.attr("href").await.expect("href").unwrap_or_default();
    assert!(href.starts_with("#/guidelines/"), "{href}");
    let answer = b
        .text_until("#copilot-log .answer", "an answer", |a| !a.is_empty())
        .await;
    assert!(answer.contains("aurora-toys.pdf"), "{answer}");
    b.shot("copilot-answer").await;
    b.assert_accessible("the copilot").await;

    // A question the guidelines do not cover says so.
    b.type_into(
        "#copilot-question",
        "What is the policy on sponsoring Formula 1 racing teams?",
    )
    .await;
    b.click("#copilot-ask").await;
    b.find("#copilot-log .answer.not-covered").await;
    b.shot("copilot-not-covered").await;

    link.click().await.expect("citation opens");
    let page = b
        .text_until("#guideline-page-text", "the cited page", |p| p.len() > 20)
        .await;
    assert!(!page.is_empty());
    b.shot("guideline-page").await;
    b.assert_accessible("the guideline page").await;
    b.assert_clean_log().await;
    b.close().await;
    w.finish().await;
}

#[tokio::test]
async fn viewer_sees_no_approve_button_and_rest_refuses_anyway() {
    let Some(b) = browser("viewer", Look::Narrow).await else {
        return;
    };
    let (w, t, fix) = world_with_proposal().await;
    let base = w.server().url("/");
    let viewer = key(&w.server().db, Role::Viewer).await;
    b.sign_in(&base, &viewer).await;
    b.open(&format!("{base}#/board")).await;
    b.find(&card_in("fix_proposed", t)).await;
    b.shot("board-narrow").await;
    b.open(&format!("{base}#/review/fix/{fix}")).await;
    b.text_until("#review-detail .diff", "the patch", |d| !d.is_empty())
        .await;
    assert!(!b.exists("#approve").await, "a viewer must not see approve");
    assert!(!b.exists("#reject").await, "a viewer must not see reject");
    b.shot("review-viewer-narrow").await;

    // The server refuses the decision anyway, and nothing changed.
    let rest = w.server().rest(&viewer);
    let (status, body) = rest.approve_fix(fix).await;
    assert_eq!(status, 403, "{body}");
    let fix_now = ok200(rest.fix(fix).await);
    assert_eq!(fix_now["status"], "PENDING_REVIEW");

    // Ops opens the proposal; a colleague rejects it meanwhile: approving is a conflict,
    // shown plainly, and the page shows what happened.
    b.click("#signout").await;
    b.sign_in(&base, &key(&w.server().db, Role::Ops).await)
        .await;
    b.open(&format!("{base}#/review/fix/{fix}")).await;
    b.find("#approve").await;
    let colleague = w.rest(Role::Ops).await;
    ok200(
        colleague
            .reject_fix(fix, &json!({"reason": "wait for the new creative"}))
            .await,
    );
    b.click("#approve").await;
    let err = b
        .text_until("#decision-error", "the conflict", |e| !e.is_empty())
        .await;
    assert!(err.contains("Not applied"), "{err}");
    b.text_until("#review-detail", "the new state", |d| {
        d.contains("REJECTED")
    })
    .await;
    b.shot("review-conflict").await;
    b.assert_clean_log().await;
    b.close().await;
    w.finish().await;
}

#[tokio::test]
async fn bad_key_gets_a_clear_sign_in_error_and_admin_sees_rename_impact_first() {
    let Some(b) = browser("signin", Look::Light).await else {
        return;
    };
    let w = World::build().server().start().await;
    draft_ticket(
        &w.s,
        "META",
        "Moana Launch",
        json!({"objective": "TRAFFIC"}),
    )
    .await;
    let base = w.server().url("/");
    b.open(&base).await;
    b.type_into("#api-key", "ot_not_a_real_key").await;
    b.click("#signin-submit").await;
    let err = b
        .text_until("#signin-error", "an error", |e| !e.is_empty())
        .await;
    assert!(err.to_lowercase().contains("key"), "{err}");
    assert!(!b.visible("#whoami").await, "not signed in");
    // The key is in the page's session only, never in the address.
    let url = b.client.current_url().await.expect("url");
    assert!(!url.as_str().contains("ot_not_a_real_key"), "{url}");
    b.shot("signin-error").await;
    b.assert_accessible("the sign-in form").await;

    // Admin: renaming a market code shows what it would rename first; cancel changes nothing.
    let admin = key(&w.server().db, Role::Admin).await;
    b.sign_in(&base, &admin).await;
    b.open(&format!("{base}#/admin")).await;
    b.click("table#markets tr[data-code=\"US\"] button.edit")
        .await;
    let code = b
        .find("table#markets tr[data-code=\"US\"] input[name=\"code\"]")
        .await;
    code.clear().await.expect("clear");
    code.send_keys("USA").await.expect("type");
    b.click("table#markets tr[data-code=\"US\"] button.save")
        .await;
    let impact = b
        .text_until("#rename-impact", "the rename impact", |i| !i.is_empty())
        .await;
    assert!(impact.contains("USA"), "{impact}");
    b.shot("admin-rename-impact").await;
    b.click("#rename-cancel").await;
    let markets = ok200(w.server().rest(&admin).get("/api/v1/markets").await);
    assert_eq!(markets["markets"][0]["code"], "US", "{markets}");
    b.shot("admin").await;
    b.assert_accessible("the admin tables").await;
    b.assert_clean_log().await;
    b.close().await;
    w.finish().await;
}

#[tokio::test]
async fn console_is_served_with_a_strict_content_security_policy() {
    let w = World::build().server().start().await;
    let http = reqwest::Client::new();
    for (path, mime) in [
        ("/", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let r = http.get(w.server().url(path)).send().await.expect("served");
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(h["content-type"].to_str().unwrap().starts_with(mime));
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = r.text().await.expect("body");
        assert!(!body.is_empty(), "{path} is empty");
    }
    let page = http
        .get(w.server().url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>"), "no inline script");
    assert!(!page.contains("style="), "no inline style");
    assert!(
        !page.contains("=\"http"),
        "nothing loaded from another origin"
    );
    w.finish().await;
}

/// Not a test: a seeded server for working on the console by hand. Run with
/// `OMNITRAFFICK_CONSOLE_DIR=$PWD/src/http/console cargo test --test console -- --ignored demo --nocapture`;
/// it prints the address and a key per role, and serves for DEMO_MINUTES (default 30).
#[tokio::test]
#[ignore]
async fn demo() {
    let (mut w, t, fix) = world_with_proposal().await;
    w.s.copilot
        .ensure_sample_brands()
        .await
        .expect("sample brands");
    for s in omnitraffick::copilot::SAMPLES {
        w.s.copilot
            .ingest(s.brand_code, s.file_name, s.bytes.to_vec())
            .await
            .expect("samples");
    }
    let mut keys = serde_json::Map::new();
    for role in Role::ALL {
        keys.insert(role.as_str().into(), json!(key(&w.server().db, role).await));
    }
    let info = json!({"url": w.server().url("/"), "keys": keys, "fix_proposed_ticket": t, "pending_fix": fix});
    println!("{}", serde_json::to_string_pretty(&info).unwrap());
    let _ = std::fs::write("/tmp/console-demo.json", info.to_string());
    w.start_workers();
    let minutes: u64 = std::env::var("DEMO_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    tokio::time::sleep(Duration::from_secs(minutes * 60)).await;
    w.finish().await;
}
