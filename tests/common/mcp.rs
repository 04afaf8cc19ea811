//! A typed MCP client: `call` (tool result or tool error), `ok` and `err` that assert which,
//! and helpers for the tools most tests use. Works over HTTP, stdio, or any rmcp client with
//! its own handler (e.g. one that records notifications); it derefs to the rmcp client for
//! everything else (subscribe, list_tools, ...).

use std::ops::Deref;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::ClientConfig;
use rmcp::service::{RunningService, Service};
use serde_json::{Value, json};

use super::{Outcome, TestDb, TestServer, call, connect_http, connect_stdio, wait_until};

pub struct Mcp<S: Service<RoleClient> = ClientConfig>(pub RunningService<RoleClient, S>);

impl Mcp {
    /// Over Streamable HTTP to `server`, with `key` when given.
    pub async fn http(server: &TestServer, key: Option<&str>) -> Self {
        Self(connect_http(server, key).await)
    }

    /// Over stdio to a `serve --stdio` child on `db`.
    pub async fn stdio(db: &TestDb) -> Self {
        Self(connect_stdio(db).await)
    }
}

impl<S: Service<RoleClient>> Deref for Mcp<S> {
    type Target = RunningService<RoleClient, S>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Service<RoleClient>> Mcp<S> {
    pub fn new(client: RunningService<RoleClient, S>) -> Self {
        Self(client)
    }

    pub async fn call(&self, tool: &str, args: Value) -> Outcome {
        call(&self.0, tool, args).await
    }

    /// The result of a call that must succeed.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        self.call(tool, args).await.ok()
    }

    /// The `error` object of a call that must fail with a tool error.
    pub async fn err(&self, tool: &str, args: Value) -> Value {
        self.call(tool, args).await.err()
    }

    /// Market US, brand DIS, channel META and campaign "Moana Launch!" 2026; the campaign id.
    pub async fn seed_example(&self) -> i64 {
        super::seed_example(&self.0).await
    }

    /// A ticket for `campaign` on `channel` with `payload`; its id.
    pub async fn create_ticket(&self, campaign: i64, channel: &str, payload: Value) -> i64 {
        let t = self
            .ok(
                "create_ticket",
                json!({"campaign_id": campaign, "channel_code": channel, "payload_config": payload}),
            )
            .await;
        t["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("ticket id in {t}"))
    }

    pub async fn run_qa(&self, ticket: i64) -> Value {
        self.ok("run_qa", json!({"ticket_id": ticket})).await
    }

    pub async fn deploy_ticket(&self, ticket: i64) -> Value {
        self.ok("deploy_ticket", json!({"ticket_id": ticket})).await
    }

    pub async fn get_ticket(&self, ticket: i64) -> Value {
        self.ok("get_ticket", json!({"ticket_id": ticket})).await
    }

    pub async fn deploy_status(&self, ticket: i64) -> Value {
        self.ok("get_deploy_status", json!({"ticket_id": ticket}))
            .await
    }

    /// Wait (up to `within`) until the ticket's status is `want`; its deploy status then.
    pub async fn wait_ticket_status(&self, ticket: i64, want: &str, within: Duration) -> Value {
        wait_until(
            &format!("ticket {ticket} never reached {want}"),
            within,
            || async {
                let st = self.deploy_status(ticket).await;
                if st["ticket_status"] == want {
                    Ok(st)
                } else {
                    Err(st.to_string())
                }
            },
        )
        .await
    }

    /// Close the session (and, over stdio, let the server exit).
    pub async fn close(self) {
        self.0.cancel().await.ok();
    }
}
