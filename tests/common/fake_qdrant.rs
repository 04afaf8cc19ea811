//! A small stand-in for Qdrant's REST API, enough for the copilot's calls: collection get and
//! create, payload index, points upsert and delete by filter, and `points/query` with sparse
//! and dense prefetches fused by RRF, filtered on an integer payload key. Real Qdrant is used
//! instead when QDRANT_URL is set.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Default)]
pub struct QState {
    pub collections: HashMap<String, Value>,
    pub points: HashMap<String, Vec<Value>>,
    pub calls: Vec<String>,
}

type S = State<Arc<Mutex<QState>>>;

pub async fn start() -> (String, Arc<Mutex<QState>>) {
    let st = Arc::new(Mutex::new(QState::default()));
    let app = Router::new()
        .route("/collections/{c}", get(get_collection).put(create))
        .route("/collections/{c}/index", put(index))
        .route("/collections/{c}/points", put(upsert))
        .route("/collections/{c}/points/delete", post(delete))
        .route("/collections/{c}/points/query", post(query))
        .with_state(st.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}"), st)
}

fn ok(result: Value) -> Response {
    Json(json!({"result": result, "status": "ok", "time": 0.001})).into_response()
}

async fn get_collection(State(st): S, Path(c): Path<String>) -> Response {
    let s = st.lock().unwrap();
    match s.collections.get(&c) {
        Some(cfg) => ok(json!({"status": "green", "config": {"params": cfg}})),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"status": {"error": format!("Not found: Collection `{c}` doesn't exist!")}, "time": 0.0})),
        )
            .into_response(),
    }
}

async fn create(State(st): S, Path(c): Path<String>, Json(b): Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    s.calls.push(format!("create {c}"));
    s.collections.insert(c, b);
    ok(json!(true))
}

async fn index(State(st): S, Path(c): Path<String>, Json(b): Json<Value>) -> Response {
    st.lock()
        .unwrap()
        .calls
        .push(format!("index {c} {}", b["field_name"]));
    ok(json!({"operation_id": 1, "status": "completed"}))
}

async fn upsert(State(st): S, Path(c): Path<String>, Json(b): Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    let pts = s.points.entry(c).or_default();
    for p in b["points"].as_array().cloned().unwrap_or_default() {
        pts.retain(|q| q["id"] != p["id"]);
        pts.push(p);
    }
    ok(json!({"operation_id": 2, "status": "completed"}))
}

fn matches(p: &Value, filter: &Value) -> bool {
    filter["must"].as_array().into_iter().flatten().all(|cond| {
        let key = cond["key"].as_str().unwrap_or_default();
        p["payload"][key] == cond["match"]["value"]
    })
}

async fn delete(State(st): S, Path(c): Path<String>, Json(b): Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    if let Some(pts) = s.points.get_mut(&c) {
        pts.retain(|p| !matches(p, &b["filter"]));
    }
    ok(json!({"operation_id": 3, "status": "completed"}))
}

fn score(p: &Value, q: &Value, using: &str) -> Option<f64> {
    let v = &p["vector"][using];
    if using == "sparse" {
        let idx: HashMap<u64, f64> = v["indices"]
            .as_array()?
            .iter()
            .zip(v["values"].as_array()?)
            .filter_map(|(i, x)| Some((i.as_u64()?, x.as_f64()?)))
            .collect();
        let s: f64 = q["indices"]
            .as_array()?
            .iter()
            .filter_map(|i| idx.get(&i.as_u64()?))
            .sum();
        (s > 0.0).then_some(s)
    } else {
        let a = v.as_array()?;
        let b = q.as_array()?;
        Some(
            a.iter()
                .zip(b)
                .map(|(x, y)| x.as_f64().unwrap_or(0.0) * y.as_f64().unwrap_or(0.0))
                .sum(),
        )
    }
}

fn ranked(
    pts: &[Value],
    q: &Value,
    using: &str,
    filter: &Value,
    limit: usize,
) -> Vec<(Value, f64)> {
    let mut v: Vec<(Value, f64)> = pts
        .iter()
        .filter(|p| matches(p, filter))
        .filter_map(|p| score(p, q, using).map(|s| (p.clone(), s)))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(limit);
    v
}

async fn query(State(st): S, Path(c): Path<String>, Json(b): Json<Value>) -> Response {
    let s = st.lock().unwrap();
    let pts = s.points.get(&c).cloned().unwrap_or_default();
    let limit = b["limit"].as_u64().unwrap_or(10) as usize;
    let out: Vec<(Value, f64)> = if let Some(pre) = b["prefetch"].as_array() {
        let mut fused: HashMap<String, (Value, f64)> = HashMap::new();
        for p in pre {
            let list = ranked(
                &pts,
                &p["query"],
                p["using"].as_str().unwrap_or(""),
                &p["filter"],
                p["limit"].as_u64().unwrap_or(10) as usize,
            );
            for (rank, (pt, _)) in list.into_iter().enumerate() {
                let e = fused.entry(pt["id"].to_string()).or_insert((pt, 0.0));
                e.1 += 1.0 / (60.0 + rank as f64 + 1.0);
            }
        }
        let mut v: Vec<(Value, f64)> = fused
            .into_values()
            .filter(|(p, _)| matches(p, &b["filter"]))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.truncate(limit);
        v
    } else {
        ranked(
            &pts,
            &b["query"],
            b["using"].as_str().unwrap_or(""),
            &b["filter"],
            limit,
        )
    };
    let points: Vec<Value> = out
        .into_iter()
        .map(|(p, s)| json!({"id": p["id"], "version": 1, "score": s, "payload": p["payload"]}))
        .collect();
    ok(json!({ "points": points }))
}
