//! `/metrics` in the Prometheus text format: deploy runs by state, platform requests by
//! outcome (failures by class), fix proposals by status (read from the store, so they cover
//! every process sharing it), and this process's MCP tool calls with a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

use crate::error::AppResult;
use crate::store::{self, Db, GroupCount};

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

/// The counts, or none (with a warning) when the store could not be read, so a scrape still
/// gets this process's own series.
fn or_empty(counts: AppResult<Vec<GroupCount>>) -> Vec<GroupCount> {
    counts.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "metrics query failed");
        Vec::new()
    })
}

pub async fn render(db: &Db) -> String {
    let mut out = String::new();
    let sections = [
        (
            "omnitraffick_deploy_runs",
            "Deploy runs by state.",
            "state",
            store::deploy_runs_by_state(db).await,
        ),
        (
            "omnitraffick_platform_requests",
            "Requests sent to ad platforms by outcome (CREATED, FOUND, RATE_LIMITED, TRANSIENT, UNKNOWN, PERMANENT, ...).",
            "outcome",
            store::deploy_attempts_by_outcome(db).await,
        ),
        (
            "omnitraffick_fix_proposals",
            "Fix proposals by status.",
            "status",
            store::fix_proposals_by_status(db).await,
        ),
    ];
    for (name, help, key, counts) in sections {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for c in or_empty(counts) {
            let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {}", label(&c.key), c.count);
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
