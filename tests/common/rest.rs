//! A typed client for the server's REST routes: every call answers `(StatusCode, Value)` (the
//! body as JSON, or as a JSON string when it is not JSON), so a test asserts on what a caller
//! sees. `request` gives a raw, authorized request for the cases that need their own headers
//! or bodies.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::TestServer;

#[derive(Clone)]
pub struct Rest {
    pub base: String,
    pub key: Option<String>,
    http: reqwest::Client,
}

/// The body of a 200 answer; fails with the status and body otherwise.
pub fn ok200((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

impl Rest {
    /// A client for `server`, sending `key` as a bearer token when given.
    pub fn new(server: &TestServer, key: Option<&str>) -> Self {
        Self {
            base: format!("http://{}", server.addr),
            key: key.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    /// The same server with another key (or none), sharing the connection pool.
    pub fn with_key(&self, key: Option<&str>) -> Self {
        Self {
            key: key.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The same client over another `reqwest::Client` (timeouts, pool settings).
    pub fn with_http(self, http: reqwest::Client) -> Self {
        Self { http, ..self }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, with the key when this client has one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match &self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// Send `request`; its status and body.
    pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
        let r = request.send().await.expect("the server answers");
        let status = r.status();
        let text = r.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.request(Method::GET, path)).await
    }

    /// POST `body` as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        Self::send(self.request(Method::POST, path).json(body)).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.request(Method::POST, path)).await
    }

    /// POST `body` as it is, labelled as JSON (for bodies that are not valid JSON).
    pub async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        Self::send(
            self.request(Method::POST, path)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    /// GET /api/v1/fixes, with `query` (e.g. `status=PENDING_REVIEW`, or empty).
    pub async fn fixes(&self, query: &str) -> (StatusCode, Value) {
        if query.is_empty() {
            self.get("/api/v1/fixes").await
        } else {
            self.get(&format!("/api/v1/fixes?{query}")).await
        }
    }

    pub async fn fix(&self, id: i64) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/fixes/{id}")).await
    }

    /// Approve fix `id`, without a body.
    pub async fn approve_fix(&self, id: i64) -> (StatusCode, Value) {
        self.post_empty(&format!("/api/v1/fixes/{id}/approve"))
            .await
    }

    /// Approve fix `id` with `body` (e.g. a reason).
    pub async fn approve_fix_with(&self, id: i64, body: &Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/fixes/{id}/approve"), body)
            .await
    }

    pub async fn reject_fix(&self, id: i64, body: &Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/fixes/{id}/reject"), body).await
    }

    pub async fn ticket(&self, id: i64) -> (StatusCode, Value) {
        self.get(&format!("/api/v1/tickets/{id}")).await
    }

    pub async fn copilot_chat(&self, body: &Value) -> (StatusCode, Value) {
        self.post("/api/v1/copilot/chat", body).await
    }

    pub async fn capi_events(&self, body: &Value) -> (StatusCode, Value) {
        self.post("/api/v1/capi/events", body).await
    }

    pub async fn openapi(&self) -> (StatusCode, Value) {
        self.get("/api/v1/openapi.json").await
    }

    pub async fn healthz(&self) -> StatusCode {
        self.get("/healthz").await.0
    }

    /// GET /metrics as text.
    pub async fn metrics(&self) -> (StatusCode, String) {
        let r = self
            .request(Method::GET, "/metrics")
            .send()
            .await
            .expect("the server answers");
        let status = r.status();
        (status, r.text().await.expect("a readable body"))
    }
}
