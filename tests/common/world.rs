//! One world for the tests that deploy, heal or relay conversions: a fresh database, fake ad
//! platforms with a token for each platform, the seed governance data (market US, brand DIS,
//! the channels asked for), and on request the queue's workers and an HTTP server. Also the
//! ticket helpers those tests share, and `wait_until`, the one way tests wait for something.
//!
//! Dropping a world stops its workers and its server and drops its database, whether the test
//! passed or not; `finish` does the same and also checks the workers ended cleanly.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{Principal, Role};
use omnitraffick::deploy::{DeployTicketInput, DeployTicketOutput};
use omnitraffick::domain::TicketStatus;
use omnitraffick::error::AppError;
use omnitraffick::platforms::client::{self, PlatformConfig};
use omnitraffick::startup::{self, AppOptions, AppServices};
use omnitraffick::store::Db;

use super::fake_platforms::FakePlatforms;
use super::{Rest, TestDb, TestServer, fresh_db, from_json, key, seed_services};

pub const META_TOKEN: &str = "EAAGm0PX4ZCpsBAtestmetatoken";
pub const TIKTOK_TOKEN: &str = "tt-act-0123456789abcdef";
pub const GOOGLE_DEV: &str = "gdev-Abc123XyZ";
pub const GOOGLE_ACCESS: &str = "ya29.test-oauth-access";

/// Platform settings that send every request to `fake`, with a token for each platform.
pub fn fake_platform_config(fake: &FakePlatforms, timeout: Duration) -> PlatformConfig {
    let base = fake.base_url();
    let mut p = PlatformConfig::new(&base, &base, &base, "v25.0", timeout);
    p.set_credential(client::META_TOKEN, META_TOKEN);
    p.set_credential(client::TIKTOK_TOKEN, TIKTOK_TOKEN);
    p.set_credential(client::GOOGLE_DEVELOPER_TOKEN, GOOGLE_DEV);
    p.set_credential(client::GOOGLE_ACCESS_TOKEN, GOOGLE_ACCESS);
    p
}

/// The local operator, who may do anything.
pub fn me() -> Principal {
    Principal::local_operator()
}

/// Poll `probe` (every 50 ms) until it returns `Ok`, and return that. `Err` describes the
/// state seen so far; after `within` the test fails with `what` and the last description.
/// This is how a test waits for an event it can observe (a row, a status, a request reaching
/// a fake), never a fixed sleep.
pub async fn wait_until<T, F, Fut>(what: &str, within: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    match poll_until(within, probe).await {
        Ok(v) => v,
        Err(state) => panic!("{what} (waited {within:?}): {state}"),
    }
}

/// `wait_until` that hands back the last description instead of failing, for a test that
/// gathers more about what went wrong before it fails.
pub async fn poll_until<T, F, Fut>(within: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match probe().await {
            Ok(v) => return Ok(v),
            Err(state) if tokio::time::Instant::now() >= deadline => return Err(state),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The queue's workers (`AppServices::run_workers`) in a task of this test. Dropping them asks
/// them to stop; `stop` also waits and checks they ended without an error.
pub struct Workers {
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<omnitraffick::error::AppResult<()>>>,
}

impl Workers {
    pub fn start(s: &AppServices) -> Self {
        let stop = CancellationToken::new();
        let (d, st) = (s.clone(), stop.clone());
        let handle = tokio::spawn(async move { d.run_workers(st).await });
        Self {
            stop,
            handle: Some(handle),
        }
    }

    /// Ask the workers to stop, without waiting.
    pub fn cancel(&self) {
        self.stop.cancel();
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(h) = self.handle.take() {
            h.await.expect("workers task").expect("workers end cleanly");
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A change to the application's options, applied when the world starts.
type OptionsTweak = Box<dyn FnOnce(&mut AppOptions)>;

/// What a world is made of; `World::build()` starts from a 400 ms platform timeout, channels
/// META, TIKTOK and GADS, default options, no workers and no server.
pub struct WorldBuilder {
    timeout: Duration,
    channels: Vec<(&'static str, &'static str, &'static str)>,
    options: Vec<OptionsTweak>,
    workers: bool,
    server: bool,
}

impl WorldBuilder {
    /// How long a platform request may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The channels to create (besides market US and brand DIS).
    pub fn channels(mut self, channels: &[(&'static str, &'static str, &'static str)]) -> Self {
        self.channels = channels.to_vec();
        self
    }

    /// Change the application's options (deploy settings, auto-apply, LLM, ...); the
    /// platforms already point at the fake.
    pub fn options(mut self, tweak: impl FnOnce(&mut AppOptions) + 'static) -> Self {
        self.options.push(Box::new(tweak));
        self
    }

    /// Run the queue's workers from the start.
    pub fn workers(mut self) -> Self {
        self.workers = true;
        self
    }

    /// Serve HTTP (REST and MCP) on a loopback port.
    pub fn server(mut self) -> Self {
        self.server = true;
        self
    }

    pub async fn start(self) -> World {
        let tdb = fresh_db().await;
        let fake = FakePlatforms::start().await;
        let mut opts = AppOptions {
            platforms: fake_platform_config(&fake, self.timeout),
            ..AppOptions::default()
        };
        for tweak in self.options {
            tweak(&mut opts);
        }
        let (db, s) = startup::open_with(&tdb.url, opts)
            .await
            .expect("open database");
        seed_services(&s, &self.channels).await;
        let workers = self.workers.then(|| Workers::start(&s));
        let server = if self.server {
            Some(TestServer::start(&tdb, false).await)
        } else {
            None
        };
        World {
            s,
            db,
            fake,
            server,
            workers,
            _tdb: tdb,
        }
    }
}

/// See the module documentation.
pub struct World {
    pub s: AppServices,
    pub db: Db,
    pub fake: FakePlatforms,
    server: Option<TestServer>,
    workers: Option<Workers>,
    // Last, so the database goes after everything that uses it.
    _tdb: TestDb,
}

impl World {
    pub fn build() -> WorldBuilder {
        WorldBuilder {
            timeout: Duration::from_millis(400),
            channels: vec![super::META, super::TIKTOK, super::GADS],
            options: Vec::new(),
            workers: false,
            server: false,
        }
    }

    /// The world's HTTP server (built with `.server()`).
    pub fn server(&self) -> &TestServer {
        self.server
            .as_ref()
            .expect("this world was built without .server()")
    }

    /// A REST client with a new key of `role`.
    pub async fn rest(&self, role: Role) -> Rest {
        let server = self.server();
        Rest::new(server, Some(&key(&server.db, role).await))
    }

    /// Start the queue's workers (if they are not running).
    pub fn start_workers(&mut self) {
        if self.workers.is_none() {
            self.workers = Some(Workers::start(&self.s));
        }
    }

    /// Stop the workers and wait for them; they must end without an error.
    pub async fn stop_workers(&mut self) {
        if let Some(w) = self.workers.take() {
            w.stop().await;
        }
    }

    /// Stop the workers and the server, waiting for both.
    pub async fn finish(mut self) {
        self.stop_workers().await;
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    pub async fn ready_ticket(&self, channel: &str, name: &str, payload: Value) -> i64 {
        ready_ticket(&self.s, channel, name, payload).await
    }

    pub async fn queue_deploy(&self, ticket: i64) -> i64 {
        queue_deploy(&self.s, ticket).await
    }

    pub async fn deploy_status(&self, ticket: i64) -> Value {
        deploy_status(&self.s, ticket).await
    }

    pub async fn wait_status(&self, ticket: i64, want: &str) {
        super::wait_status(&self.s, ticket, want).await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.cancel();
        }
    }
}

/// A campaign of brand DIS in market US for 2027.
pub async fn campaign(s: &AppServices, name: &str) -> i64 {
    s.governance
        .create_campaign(from_json(
            json!({"brand_code": "DIS", "market_code": "US", "name": name, "year": 2027}),
        ))
        .await
        .expect("campaign")
        .id
}

/// A DRAFT ticket with `payload` on `channel`, for a new campaign named `name`.
pub async fn draft_ticket(s: &AppServices, channel: &str, name: &str, payload: Value) -> i64 {
    let c = campaign(s, name).await;
    s.governance
        .create_ticket(
            &me(),
            from_json(
                json!({"campaign_id": c, "channel_code": channel, "payload_config": payload}),
            ),
        )
        .await
        .expect("ticket")
        .id
}

/// A ticket that passed QA (READY_FOR_API), as `draft_ticket` makes it.
pub async fn ready_ticket(s: &AppServices, channel: &str, name: &str, payload: Value) -> i64 {
    let t = draft_ticket(s, channel, name, payload).await;
    let qa =
        s.qa.run_qa(&me(), from_json(json!({"ticket_id": t})))
            .await
            .expect("run_qa");
    assert_eq!(qa.status, TicketStatus::ReadyForApi, "{:?}", qa.report);
    t
}

/// Ask for a deploy (or, with `validate_only`, a check) of `ticket`, as the local operator.
pub async fn try_deploy(
    s: &AppServices,
    ticket_id: i64,
    validate_only: bool,
) -> Result<DeployTicketOutput, AppError> {
    s.deploy
        .deploy_ticket(
            &me(),
            DeployTicketInput {
                ticket_id,
                validate_only,
            },
        )
        .await
}

/// Queue a deploy of `ticket`; the run's id.
pub async fn queue_deploy(s: &AppServices, ticket: i64) -> i64 {
    let out = try_deploy(s, ticket, false).await.expect("deploy queued");
    assert_eq!(out.status, TicketStatus::Queued);
    out.run_id.expect("run id")
}

/// `get_deploy_status` of `ticket`, as JSON.
pub async fn deploy_status(s: &AppServices, ticket: i64) -> Value {
    serde_json::to_value(s.deploy.status(ticket).await.expect("deploy status"))
        .expect("status serializes")
}

/// Wait (up to `within`) until the deploy status of `ticket` satisfies `done`; that status.
pub async fn wait_deploy(
    s: &AppServices,
    ticket: i64,
    what: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(what, within, || async {
        let st = deploy_status(s, ticket).await;
        if done(&st) {
            Ok(st)
        } else {
            Err(st.to_string())
        }
    })
    .await
}

/// A payload that passes QA on Meta and TikTok (a page id and a video id in the overrides).
pub fn deployable_spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.", "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE", "image_url": "https://cdn.example.com/moana.jpg"},
        "overrides": {"meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}}, "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc"}]}}}
    })
}
