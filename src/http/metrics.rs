//! `/metrics` in the Prometheus text format: deploy runs by state, platform requests by
//! outcome (failures by class), fix proposals by status (read from the store, so they cover
//! every process sharing it), and this process's MCP tool calls with a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

use sqlx::Row;

use crate::store::Db;

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

static TOOL_CALLS: LazyLock<Mutex<BTreeMap<(String, String), Series>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Record one MCP tool call.
pub fn record_tool_call(tool: &str, outcome: &str, seconds: f64) {
    if let Ok(mut m) = TOOL_CALLS.lock() {
        let s = m.entry((tool.to_owned(), outcome.to_owned())).or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

async fn grouped(db: &Db, sql: &'static str) -> Vec<(String, i64)> {
    match sqlx::query(sql).fetch_all(db.pool()).await {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.try_get::<String, _>("k").ok()?,
                    r.try_get::<i64, _>("n").ok()?,
                ))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics query failed");
            Vec::new()
        }
    }
}

pub async fn render(db: &Db) -> String {
    let mut out = String::new();
    let sections: [(&str, &str, &str, &'static str); 3] = [
        (
            "omnitraffick_deploy_runs",
            "Deploy runs by state.",
            "state",
            "SELECT state AS k, COUNT(*) AS n FROM deploy_runs GROUP BY state",
        ),
        (
            "omnitraffick_platform_requests",
            "Requests sent to ad platforms by outcome (CREATED, FOUND, RATE_LIMITED, TRANSIENT, UNKNOWN, PERMANENT, ...).",
            "outcome",
            "SELECT outcome AS k, COUNT(*) AS n FROM deploy_attempts GROUP BY outcome",
        ),
        (
            "omnitraffick_fix_proposals",
            "Fix proposals by status.",
            "status",
            "SELECT status AS k, COUNT(*) AS n FROM fix_proposals GROUP BY status",
        ),
    ];
    for (name, help, key, sql) in sections {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (k, n) in grouped(db, sql).await {
            let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {n}", label(&k));
        }
    }
    let name = "omnitraffick_tool_call_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} MCP tool calls handled by this process, by tool and outcome.\n# TYPE {name} histogram"
    );
    let snapshot = TOOL_CALLS.lock().map(|m| m.clone()).unwrap_or_default();
    for ((tool, outcome), s) in snapshot {
        let l = format!("tool=\"{}\",outcome=\"{}\"", label(&tool), label(&outcome));
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{l},le=\"{b}\"}} {}", s.buckets[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", s.sum);
        let _ = writeln!(out, "{name}_count{{{l}}} {}", s.count);
    }
    out
}
