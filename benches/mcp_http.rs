//! MCP benchmark with the server in its own process, as a client sees it.
//!
//! Starts the release `omnitraffick serve` (the binary built with this bench) on a fresh
//! SQLite file, seeds a brand, market, channel and campaign over MCP, and measures from this
//! process:
//! 1. idle RSS of the server;
//! 2. a sequential keep-alive client calling `list_markets` (BENCH_SEQ calls, default 2,000):
//!    p50/p99 over Streamable HTTP, and later over stdio (`serve --stdio`);
//! 3. `create_ticket` from 16 keep-alive connections (BENCH_CONNS) for BENCH_SECS seconds
//!    (default 10), once in one MCP session and once in 16 sessions: calls/s, p50, p99 and
//!    the server's CPU time per call. The load comes from `wrk` when it is installed
//!    (`apt-get install wrk`, one thread, Lua script written here), else from a Rust client
//!    in this process (reqwest, one keep-alive connection per task);
//! 4. RSS with 1,000 open MCP sessions;
//! 5. durability: 16 clients create tickets, the server is killed with SIGKILL mid-load, and
//!    every acknowledged ticket id must be in the database (acknowledged, stored, lost).
//!
//! With BENCH_DATABASE_URL pointing at a PostgreSQL server where the user may create
//! databases, steps 3 and 5 run again on a fresh PostgreSQL database.
//!
//!     cargo bench --bench mcp_http

#[path = "common/report.rs"]
mod report;

#[path = "common/pg.rs"]
mod pg;
use pg::{drop_pg_database, pg_database};

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_omnitraffick");
const PROTOCOL: &str = "2025-06-18";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// A server process and what we need to measure it.
struct Server {
    child: Child,
    pid: u32,
    base: String,
    key: String,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn create_key(db_url: &str) -> anyhow::Result<String> {
    let out = Command::new(BIN)
        .args(["keys", "create", "--role", "admin", "--name", "bench"])
        .args(["--database-url", db_url, "--log", "warn"])
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "keys create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout)?
        .lines()
        .last()
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| anyhow!("keys create printed no key"))
}

async fn start_server(db_url: &str, key: &str) -> anyhow::Result<Server> {
    let port = free_port()?;
    let bind = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["serve", "--database-url", db_url, "--bind", &bind])
        .args(["--no-worker", "--log", "warn"])
        .args(["--max-sessions", "1100", "--max-sessions-per-key", "1100"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or_else(|| anyhow!("server exited at once"))?;
    let base = format!("http://{bind}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the server did not answer /healthz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Server {
        child,
        pid,
        base,
        key: key.to_owned(),
    })
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// One client of the MCP endpoint: a keep-alive connection and a session.
#[derive(Clone)]
struct Mcp {
    http: reqwest::Client,
    url: String,
    key: String,
    session: String,
}

/// The JSON-RPC message in a Streamable HTTP answer (plain JSON or an SSE stream).
fn rpc_message(body: &str) -> anyhow::Result<Value> {
    if body.trim_start().starts_with('{') {
        return Ok(serde_json::from_str(body)?);
    }
    for line in body.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim();
            if data.starts_with('{') {
                return Ok(serde_json::from_str(data)?);
            }
        }
    }
    bail!("no JSON-RPC message in the answer: {body}")
}

impl Mcp {
    fn client() -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            // A call not answered in 30 s counts as failed rather than stalling the run.
            .timeout(Duration::from_secs(30))
            .build()?)
    }

    async fn open(server: &Server) -> anyhow::Result<Self> {
        Self::open_with(Self::client()?, &server.base, &server.key).await
    }

    async fn open_with(http: reqwest::Client, base: &str, key: &str) -> anyhow::Result<Self> {
        let url = format!("{base}/mcp");
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}});
        let r = http
            .post(&url)
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await?;
        let session = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("initialize returned no session id ({})", r.status()))?;
        r.text().await?;
        let mcp = Self {
            http,
            url,
            key: key.to_owned(),
            session,
        };
        mcp.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(mcp)
    }

    async fn post(&self, body: &Value) -> anyhow::Result<String> {
        Ok(self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", PROTOCOL)
            .json(body)
            .send()
            .await?
            .text()
            .await?)
    }

    /// Call a tool; the tool's structured result, or an error with its message.
    async fn call(&self, id: u64, tool: &str, args: Value) -> anyhow::Result<Value> {
        let body = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}))
            .await?;
        let msg = rpc_message(&body)?;
        let result = msg
            .get("result")
            .ok_or_else(|| anyhow!("{tool} failed: {msg}"))?;
        if result.get("isError") == Some(&Value::Bool(true)) {
            bail!("{tool} returned an error: {result}");
        }
        Ok(result
            .get("structuredContent")
            .cloned()
            .unwrap_or(Value::Null))
    }
}

/// Reference data for the load: returns the campaign id.
async fn seed(mcp: &Mcp) -> anyhow::Result<i64> {
    mcp.call(
        1,
        "create_market",
        json!({"code": "US", "country": "US", "region": "NA"}),
    )
    .await?;
    mcp.call(
        2,
        "create_brand",
        json!({"name": "Disney", "code": "DIS",
        "family_friendly": true, "currency": "USD"}),
    )
    .await?;
    mcp.call(
        3,
        "create_channel",
        json!({"code": "META", "platform": "META",
        "account_id": "1234567890"}),
    )
    .await?;
    let campaign = mcp
        .call(
            4,
            "create_campaign",
            json!({"brand_code": "DIS", "market_code": "US",
            "name": "Moana Launch", "year": 2026, "daily_budget": "1500"}),
        )
        .await?;
    campaign["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("create_campaign returned no id: {campaign}"))
}

fn ticket_args(campaign: i64, client: usize, n: usize) -> Value {
    json!({"campaign_id": campaign, "channel_code": "META",
        "payload_config": {"objective": "TRAFFIC", "client": client, "n": n}})
}

/// Sequential `list_markets` calls over one keep-alive connection; sorted latencies.
async fn sequential_http(server: &Server, calls: usize) -> anyhow::Result<Vec<Duration>> {
    let mcp = Mcp::open(server).await?;
    let mut took = Vec::with_capacity(calls);
    for i in 0..calls {
        let t = Instant::now();
        mcp.call(100 + i as u64, "list_markets", json!({})).await?;
        took.push(t.elapsed());
    }
    took.sort();
    Ok(took)
}

/// Sequential `list_markets` calls to `serve --stdio` on the same database.
async fn sequential_stdio(db_url: &str, calls: usize) -> anyhow::Result<Vec<Duration>> {
    let mut child = Command::new(BIN)
        .args(["serve", "--stdio", "--database-url", db_url, "--no-worker"])
        .args(["--log", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut send = async |msg: Value| -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&msg)?;
        line.push(b'\n');
        stdin.write_all(&line).await?;
        stdin.flush().await?;
        Ok(())
    };
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}}),
    )
    .await?;
    lines
        .next_line()
        .await?
        .context("no answer to initialize")?;
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
    let mut took = Vec::with_capacity(calls);
    for i in 0..calls {
        let t = Instant::now();
        send(
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": {"name": "list_markets", "arguments": {}}}),
        )
        .await?;
        loop {
            let line = lines.next_line().await?.context("stdio server closed")?;
            if line.contains("\"result\"") || line.contains("\"error\"") {
                anyhow::ensure!(line.contains("\"result\""), "list_markets failed: {line}");
                break;
            }
        }
        took.push(t.elapsed());
    }
    took.sort();
    let _ = child.kill().await;
    Ok(took)
}

/// What one throughput run measured.
struct Load {
    generator: &'static str,
    calls: u64,
    failed: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_ms_per_call: f64,
}

fn wrk_available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The Lua script wrk runs: `create_ticket` calls spread over the given sessions, failures
/// counted from the answers, exact percentiles printed at the end.
fn wrk_script(key: &str, sessions: &[String], campaign: i64) -> String {
    let sids = sessions
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"local sessions = {{{sids}}}
local n = 0
bad = 0
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
wrk.method = "POST"
wrk.headers["authorization"] = "Bearer {key}"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = "{PROTOCOL}"
function request()
  n = n + 1
  wrk.headers["mcp-session-id"] = sessions[(n % #sessions) + 1]
  -- One thread (-t1): n is unique across the connections, as a session's ids must be.
  local body = '{{"jsonrpc":"2.0","id":' .. n .. ',"method":"tools/call","params":{{"name":"create_ticket","arguments":{{"campaign_id":{campaign},"channel_code":"META","payload_config":{{"objective":"TRAFFIC","n":' .. n .. '}}}}}}}}'
  return wrk.format(nil, "/mcp", nil, body)
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) or string.find(body, '"isError":true', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + t:get("bad") end
  -- Calls that got no answer at all (wrk's timeout, a broken connection) failed too.
  local e = summary.errors
  failed = failed + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH %d %d %d %d %d\n", summary.requests, failed, summary.duration, latency:percentile(50), latency:percentile(99)))
end
"#
    )
}

async fn load_wrk(
    server: &Server,
    sessions: &[String],
    campaign: i64,
    conns: usize,
    secs: u64,
) -> anyhow::Result<Load> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("create.lua");
    std::fs::write(&script, wrk_script(&server.key, sessions, campaign))?;
    let before = report::cpu_ticks(server.pid);
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{conns}"), &format!("-d{secs}s")])
        .arg("-s")
        .arg(&script)
        .arg(&server.base)
        .output()
        .await?;
    let ticks = report::cpu_ticks(server.pid) - before;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("BENCH "))
        .ok_or_else(|| anyhow!("wrk printed no summary: {text}"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let [calls, failed, micros, p50, p99] = f[..] else {
        bail!("unexpected wrk summary: {line}");
    };
    Ok(Load {
        generator: "wrk",
        calls,
        failed,
        secs: micros as f64 / 1e6,
        p50_ms: p50 as f64 / 1e3,
        p99_ms: p99 as f64 / 1e3,
        cpu_ms_per_call: ticks as f64 * 10.0 / calls.max(1) as f64,
    })
}

async fn load_rust(
    server: &Server,
    sessions: &[Mcp],
    campaign: i64,
    conns: usize,
    secs: u64,
) -> anyhow::Result<Load> {
    let before = report::cpu_ticks(server.pid);
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        // One keep-alive connection per task, in the task's session.
        let mut mcp = sessions[c % sessions.len()].clone();
        mcp.http = Mcp::client()?;
        tasks.push(tokio::spawn(async move {
            let (mut took, mut failed, mut first_failure) = (Vec::new(), 0u64, None);
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let t = Instant::now();
                // Ids unique within the session, which several connections share.
                let id = ((c as u64) << 32) | n as u64;
                let r = mcp
                    .call(id, "create_ticket", ticket_args(campaign, c, n))
                    .await;
                took.push(t.elapsed());
                if let Err(e) = r {
                    failed += 1;
                    first_failure.get_or_insert_with(|| format!("{e:#}"));
                }
            }
            (took, failed, first_failure)
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        let (took, f, first_failure) = t.await?;
        all.extend(took);
        failed += f;
        if let Some(e) = first_failure {
            println!("  a failed call: {e}");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let ticks = report::cpu_ticks(server.pid) - before;
    all.sort();
    Ok(Load {
        generator: "rust client",
        calls: all.len() as u64,
        failed,
        secs,
        p50_ms: pct(&all, 0.5),
        p99_ms: pct(&all, 0.99),
        cpu_ms_per_call: ticks as f64 * 10.0 / all.len().max(1) as f64,
    })
}

async fn throughput(
    server: &Server,
    sessions: usize,
    campaign: i64,
    label: &str,
    metric: &str,
    target: &str,
) -> anyhow::Result<()> {
    let conns = env_usize("BENCH_CONNS", 16);
    let secs = env_usize("BENCH_SECS", 10) as u64;
    let mut open = Vec::new();
    for _ in 0..sessions {
        open.push(Mcp::open(server).await?);
    }
    // BENCH_LOAD=rust: the Rust client even where wrk is installed.
    let load = if wrk_available() && std::env::var("BENCH_LOAD").as_deref() != Ok("rust") {
        let ids: Vec<String> = open.iter().map(|m| m.session.clone()).collect();
        load_wrk(server, &ids, campaign, conns, secs).await?
    } else {
        load_rust(server, &open, campaign, conns, secs).await?
    };
    let rate = load.calls as f64 / load.secs;
    println!(
        "create_ticket, {label}, {conns} keep-alive connections, {sessions} session(s), {} s, load from {}",
        secs, load.generator
    );
    println!(
        "  {rate:.0} calls/s  p50 {:.2} ms  p99 {:.2} ms  server CPU {:.3} ms/call  {} calls, {} failed",
        load.p50_ms, load.p99_ms, load.cpu_ms_per_call, load.calls, load.failed
    );
    report::result(&format!("{metric}.calls_per_s"), rate, "calls/s", target);
    report::result(&format!("{metric}.p99_ms"), load.p99_ms, "ms", "< 10");
    report::result(
        &format!("{metric}.server_cpu_ms_per_call"),
        load.cpu_ms_per_call,
        "ms",
        "",
    );
    report::result(
        &format!("{metric}.failed"),
        load.failed as f64,
        "calls",
        "0",
    );
    Ok(())
}

/// Open `n` sessions (16 at a time) and keep them open; the server's RSS with them.
async fn many_sessions(server: &Server, n: usize) -> anyhow::Result<f64> {
    let http = Mcp::client()?;
    let mut opened = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for _ in 0..n {
        pending.push(Mcp::open_with(http.clone(), &server.base, &server.key));
        if pending.len() == 16 {
            for m in futures::future::join_all(pending.drain(..)).await {
                opened.push(m?);
            }
        }
    }
    for m in futures::future::join_all(pending).await {
        opened.push(m?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss = rss_mb(server.pid);
    // Still open: the sessions are dropped (not closed) only after the reading.
    drop(opened);
    Ok(rss)
}

/// Clients create tickets; the server is killed mid-load; every acknowledged id must be
/// stored. Returns (acknowledged, stored by this run, lost).
async fn kill_mid_load(
    mut server: Server,
    db_url: &str,
    campaign: i64,
) -> anyhow::Result<(usize, usize, usize)> {
    let first = Mcp::open(&server)
        .await?
        .call(1, "create_ticket", ticket_args(campaign, 99, 0))
        .await?;
    let first = first["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("create_ticket returned no id: {first}"))?;
    let mut tasks = Vec::new();
    for c in 0..16 {
        let mcp = Mcp::open(&server).await?;
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0.. {
                match mcp
                    .call(n as u64, "create_ticket", ticket_args(campaign, c, n))
                    .await
                {
                    Ok(t) => match t["id"].as_i64() {
                        Some(id) => acked.push(id),
                        None => break,
                    },
                    // The server is gone.
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL: no shutdown code runs.
    server.child.start_kill()?;
    server.child.wait().await?;
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await?);
    }
    let db = omnitraffick::store::Db::connect(db_url).await?;
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE id > $1")
        .bind(first)
        .fetch_all(db.pool())
        .await?;
    db.close().await;
    let stored_set: std::collections::HashSet<i64> = stored.iter().copied().collect();
    let lost = acked.iter().filter(|id| !stored_set.contains(id)).count();
    Ok((acked.len(), stored.len(), lost))
}

/// One store: throughput in one session and in 16, then the kill test. SQLite also gets the
/// latency, memory and stdio figures.
async fn run_store(name: &str, db_url: &str) -> anyhow::Result<()> {
    let key = create_key(db_url).await?;
    let server = start_server(db_url, &key).await?;
    let setup = Mcp::open(&server).await?;
    let campaign = seed(&setup).await?;
    let sqlite = name == "sqlite";
    if sqlite {
        let rss = rss_mb(server.pid);
        println!("server RSS idle: {rss:.1} MB");
        report::result("memory.idle_rss_mb", rss, "MB", "< 200");
        let calls = env_usize("BENCH_SEQ", 2000);
        let seq = sequential_http(&server, calls).await?;
        println!(
            "list_markets, one sequential keep-alive client over Streamable HTTP, {calls} calls: p50 {:.3} ms  p99 {:.3} ms",
            pct(&seq, 0.5),
            pct(&seq, 0.99)
        );
        report::result("mcp.http_sequential_p50_ms", pct(&seq, 0.5), "ms", "< 1");
        report::result("mcp.http_sequential_p99_ms", pct(&seq, 0.99), "ms", "< 3");
    }
    let target = if sqlite { ">= 6000" } else { ">= 4000" };
    throughput(
        &server,
        1,
        campaign,
        name,
        &format!("mcp.{name}.create_one_session"),
        target,
    )
    .await?;
    throughput(
        &server,
        16,
        campaign,
        name,
        &format!("mcp.{name}.create_16_sessions"),
        target,
    )
    .await?;
    if sqlite {
        let n = env_usize("BENCH_SESSIONS", 1000);
        let rss = many_sessions(&server, n).await?;
        println!("server RSS with {n} open MCP sessions: {rss:.1} MB");
        report::result("memory.rss_1000_sessions_mb", rss, "MB", "< 200");
    }
    let (acked, stored, lost) = kill_mid_load(server, db_url, campaign).await?;
    println!(
        "SIGKILL mid-load ({name}): {acked} tickets acknowledged before the kill, {stored} stored (the rest were in flight), {lost} acknowledged but lost"
    );
    report::result(
        &format!("durability.{name}.lost_after_sigkill"),
        lost as f64,
        "tickets",
        "0",
    );
    if sqlite {
        let calls = env_usize("BENCH_SEQ", 2000);
        let seq = sequential_stdio(db_url, calls).await?;
        println!(
            "list_markets, one sequential client over stdio, {calls} calls: p50 {:.3} ms  p99 {:.3} ms",
            pct(&seq, 0.5),
            pct(&seq, 0.99)
        );
        report::result("mcp.stdio_sequential_p50_ms", pct(&seq, 0.5), "ms", "< 1");
        report::result("mcp.stdio_sequential_p99_ms", pct(&seq, 0.99), "ms", "< 3");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!(
        "MCP benchmark: server {BIN} in its own process, {} cores",
        report::cores()
    );
    let dir = tempfile::tempdir()?;
    let db_url = dir.path().join("bench.db").to_string_lossy().into_owned();
    run_store("sqlite", &db_url).await?;
    if let Ok(admin) = std::env::var("BENCH_DATABASE_URL")
        && !admin.trim().is_empty()
    {
        sqlx::any::install_default_drivers();
        let (url, name) = pg_database(&admin, "mcp").await?;
        let outcome = run_store("postgres", &url).await;
        drop_pg_database(&admin, &name).await?;
        outcome?;
    } else {
        println!("(set BENCH_DATABASE_URL to a PostgreSQL server to measure it too)");
    }
    Ok(())
}
