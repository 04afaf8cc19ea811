//! A fake OpenAI-compatible server: `POST /v1/embeddings` and `POST /v1/chat/completions` in
//! their real JSON shapes. Embeddings are deterministic bags of hashed words (so texts that
//! share words are close); chat answers cite the first passage label found in the prompt, or
//! follow a scripted reply. It records every request body.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

pub const DIM: usize = 64;

#[derive(Default)]
pub struct OpenAiState {
    pub requests: Vec<(String, Value)>,
    /// Replaces the chat answer when set.
    pub chat_reply: Option<String>,
    /// Also return a tool call (which the server must ignore).
    pub with_tool_call: bool,
    pub fail_embeddings: bool,
    pub fail_chat: bool,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    pub url: String,
    pub state: Arc<Mutex<OpenAiState>>,
}

pub fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let w = w.to_lowercase();
        let mut h: u64 = 1469598103934665603;
        for b in w.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(1099511628211);
        }
        v[(h % DIM as u64) as usize] += 1.0;
    }
    v
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(OpenAiState::default()));
        let app = Router::new()
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/chat/completions", post(chat))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/v1"),
            state,
        }
    }

    pub fn requests(&self, path: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

type S = State<Arc<Mutex<OpenAiState>>>;

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}})),
    )
        .into_response()
}

async fn embeddings(State(st): S, Json(body): Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    s.requests.push(("embeddings".into(), body.clone()));
    if s.fail_embeddings {
        return error(StatusCode::SERVICE_UNAVAILABLE, "The server is overloaded.");
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed(t)}))
        .collect();
    Json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": 8, "total_tokens": 8}
    }))
    .into_response()
}

async fn chat(State(st): S, Json(body): Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    s.requests.push(("chat".into(), body.clone()));
    if s.fail_chat {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "The model crashed.");
    }
    let system = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = match &s.chat_reply {
        Some(r) => r.clone(),
        None => {
            // Cite the first passage label in the prompt, e.g. "[aurora-toys.pdf p.4]".
            let label = system
                .split("<<<PASSAGES")
                .nth(1)
                .and_then(|p| p.split('[').nth(1))
                .and_then(|p| p.split(']').next())
                .unwrap_or("nothing");
            format!("According to the guidelines, the rule is as stated [{label}].")
        }
    };
    let mut message = json!({"role": "assistant", "content": reply, "refusal": null});
    if s.with_tool_call {
        message["tool_calls"] = json!([{
            "id": "call_1", "type": "function",
            "function": {"name": "deploy_ticket", "arguments": "{\"ticket_id\": 1}"}
        }]);
    }
    Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1764000000,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
    .into_response()
}
