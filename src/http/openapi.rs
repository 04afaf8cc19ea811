//! The OpenAPI 3 document of the REST API, built from the same schemars schemas that type the
//! handlers' inputs and outputs, so it cannot drift from the code.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::capi::{SendEventsInput, SendEventsOutput};
use crate::changes::{ChangeDecision, ChangeList, ChangeView};
use crate::copilot::{Answer, ChatInput};
use crate::copilot::{GuidelineList, ReviewOutput};
use crate::deploy::DeployStatus;
use crate::domain::TicketView;
use crate::governance::{
    Board, BrandList, BrandUpdate, ChannelList, ChannelUpdate, MarketList, MarketUpdate,
    RenameImpact, UpdateBrandInput, UpdateChannelInput, UpdateMarketInput,
};
use crate::healing::{DecisionOutput, FixList, FixProposalView};
use crate::http::api_console::{GuidelineText, Me};
use crate::insights::{InsightsOutput, PacingOutput};
use crate::platforms::TranslatedPayloads;

/// The error body every endpoint returns: `{"error": {"code", "message", "field"?}}`.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// VALIDATION, NOT_FOUND, CONFLICT, INVALID_TRANSITION, FORBIDDEN, UNAUTHORIZED,
    /// UNAVAILABLE or INTERNAL.
    code: String,
    /// What went wrong and what to send instead.
    message: String,
    /// The input field at fault, when there is one.
    field: Option<String>,
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct DecisionBody {
    /// Why (required to reject, optional to approve).
    reason: Option<String>,
}

fn errors(codes: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (code, what) in codes {
        m.insert(
            (*code).into(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}),
        );
    }
    Value::Object(m)
}

fn ok(schema: &str, what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<ErrorBody>();
    generator.subschema_for::<DecisionBody>();
    generator.subschema_for::<ChatInput>();
    generator.subschema_for::<Answer>();
    generator.subschema_for::<FixList>();
    generator.subschema_for::<FixProposalView>();
    generator.subschema_for::<DecisionOutput>();
    generator.subschema_for::<TicketView>();
    generator.subschema_for::<ChangeList>();
    generator.subschema_for::<ChangeView>();
    generator.subschema_for::<ChangeDecision>();
    generator.subschema_for::<SendEventsInput>();
    generator.subschema_for::<SendEventsOutput>();
    generator.subschema_for::<Me>();
    generator.subschema_for::<Board>();
    generator.subschema_for::<TranslatedPayloads>();
    generator.subschema_for::<DeployStatus>();
    generator.subschema_for::<PacingOutput>();
    generator.subschema_for::<InsightsOutput>();
    generator.subschema_for::<ReviewOutput>();
    generator.subschema_for::<GuidelineList>();
    generator.subschema_for::<GuidelineText>();
    generator.subschema_for::<MarketList>();
    generator.subschema_for::<BrandList>();
    generator.subschema_for::<ChannelList>();
    generator.subschema_for::<MarketUpdate>();
    generator.subschema_for::<BrandUpdate>();
    generator.subschema_for::<ChannelUpdate>();
    generator.subschema_for::<RenameImpact>();
    generator.subschema_for::<UpdateMarketInput>();
    generator.subschema_for::<UpdateBrandInput>();
    generator.subschema_for::<UpdateChannelInput>();
    let mut defs = generator.take_definitions(true);
    // A PATCH body is the update tool's input without `code`, which is in the path.
    for (input, body) in [
        ("UpdateMarketInput", "MarketPatch"),
        ("UpdateBrandInput", "BrandPatch"),
        ("UpdateChannelInput", "ChannelPatch"),
    ] {
        if let Some(mut schema) = defs.remove(input) {
            if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                props.remove("code");
            }
            if let Some(obj) = schema.as_object_mut() {
                let left = obj
                    .get_mut("required")
                    .and_then(Value::as_array_mut)
                    .map(|req| {
                        req.retain(|r| r != "code");
                        req.len()
                    });
                // OpenAPI 3.0 does not allow an empty `required`.
                if left == Some(0) {
                    obj.remove("required");
                }
            }
            defs.insert(body.into(), schema);
        }
    }
    let schemas = Value::Object(defs);
    let common = [
        ("401", "No valid bearer key."),
        ("403", "The key's role may not do this."),
        ("413", "The body is over the size limit."),
        (
            "503",
            "The request took longer than the server's request timeout.",
        ),
    ];
    let id_param = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "OmniTraffick ops API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The web console's API: review self-healing fix proposals and changes to live campaigns, read tickets, ask the brand-guideline copilot and send conversion events. Authenticate with `Authorization: Bearer <key>` (`omnitraffick keys create`). Every error has the body {\"error\": {\"code\", \"message\", \"field\"}}."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": merge(json!({
            "/api/v1/fixes": {"get": {
                "summary": "List fix proposals, newest first (paged with before_id).",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["PENDING_REVIEW", "APPROVED", "REJECTED", "APPLIED", "QA_FAILED", "SUPERSEDED"]}},
                    {"name": "ticket", "in": "query", "schema": {"type": "integer", "format": "int64"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "before_id", "in": "query", "schema": {"type": "integer", "format": "int64"}}
                ],
                "responses": merge(json!({"200": ok("FixList", "A page of proposals.")}), errors(&[common[0], common[1], common[3], ("422", "A bad query parameter.")]))
            }},
            "/api/v1/fixes/{id}": {"get": {
                "summary": "One proposal with the payload before and after, a readable diff, its QA report and audit trail.",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("FixProposalView", "The proposal.")}), errors(&[common[0], common[1], common[3], ("404", "No such proposal."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/fixes/{id}/approve": {"post": {
                "summary": "Approve (ops or admin): applies the patch, re-runs QA and re-queues the deploy.",
                "parameters": id_param,
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionBody"}}}},
                "responses": merge(json!({"200": ok("DecisionOutput", "Applied; the ticket's status says what happened.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such proposal."), ("409", "Not pending, decided concurrently, or the ticket changed since the proposal."), ("422", "The body does not match the schema.")]))
            }},
            "/api/v1/fixes/{id}/reject": {"post": {
                "summary": "Reject (ops or admin) with a reason.",
                "parameters": id_param,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionBody"}}}},
                "responses": merge(json!({"200": ok("DecisionOutput", "Rejected.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such proposal."), ("409", "Not pending."), ("415", "No JSON body."), ("422", "No reason given, or the body does not match the schema.")]))
            }},
            "/api/v1/changes": {"get": {
                "summary": "List changes to live tickets, newest first (paged with before_id).",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["NEEDS_CONFIRMATION", "PENDING_REVIEW", "QUEUED", "APPLYING", "APPLIED", "FAILED", "REJECTED", "CANCELLED"]}},
                    {"name": "ticket", "in": "query", "schema": {"type": "integer", "format": "int64"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "before_id", "in": "query", "schema": {"type": "integer", "format": "int64"}}
                ],
                "responses": merge(json!({"200": ok("ChangeList", "A page of changes.")}), errors(&[common[0], common[1], common[3], ("422", "A bad query parameter.")]))
            }},
            "/api/v1/changes/{id}": {"get": {
                "summary": "One change: kind, risk, the spec before and after with a field diff, daily spend before and after in the brand's currency, QA report, per-object results and audit trail.",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("ChangeView", "The change.")}), errors(&[common[0], common[1], common[3], ("404", "No such change."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/changes/{id}/approve": {"post": {
                "summary": "Approve a change waiting for review (ops or admin): it is queued and a worker applies it.",
                "parameters": id_param,
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionBody"}}}},
                "responses": merge(json!({"200": ok("ChangeDecision", "Approved and queued.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such change."), ("409", "Not PENDING_REVIEW, or decided concurrently."), ("422", "The body does not match the schema.")]))
            }},
            "/api/v1/changes/{id}/reject": {"post": {
                "summary": "Reject a change waiting for review (ops or admin) with a reason; nothing is sent to the platform.",
                "parameters": id_param,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionBody"}}}},
                "responses": merge(json!({"200": ok("ChangeDecision", "Rejected.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such change."), ("409", "Not PENDING_REVIEW."), ("415", "No JSON body."), ("422", "No reason given, or the body does not match the schema.")]))
            }},
            "/api/v1/tickets/{id}": {"get": {
                "summary": "A ticket with its status, payload config, QA report, external ids and history.",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("TicketView", "The ticket.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/copilot/chat": {"post": {
                "summary": "Ask the brand-guideline copilot (any role but tracker); answers cite [document p.N].",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatInput"}}}},
                "responses": merge(json!({"200": ok("Answer", "The answer with its citations.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such brand."), ("422", "The body does not match the schema.")]))
            }},
            "/api/v1/capi/events": {"post": {
                "summary": "Send conversion events for a brand (tracker or admin; a brand-scoped key only for its brands): each is checked, normalised and hashed, deduplicated on (event_name, event_id) for 48 hours, and queued for Meta CAPI and the TikTok Events API.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SendEventsInput"}}}},
                "responses": merge(json!({"200": ok("SendEventsOutput", "Per event: accepted, duplicate or rejected with the field and the reason.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such brand."), ("415", "No JSON body."), ("422", "The body does not match the schema, or the brand has no pixel.")]))
            }}
        }), console_paths(&common, &id_param)),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas
        }
    })
}

/// The routes the web console is built on (`src/http/api_console.rs`).
fn console_paths(common: &[(&str, &str); 4], id_param: &Value) -> Value {
    json!({
            "/api/v1/me": {"get": {
                "summary": "The key: its name, role, brand scope and what it may do (read, govern, traffic, review, copilot, track). The console signs in with it.",
                "responses": merge(json!({"200": ok("Me", "The key.")}), errors(&[common[0], common[3]]))
            }},
            "/api/v1/board": {"get": {
                "summary": "The trafficking board: the newest 500 tickets the key may see (cancelled ones left out), each with its column, brand, market, channel and campaign, and the history id to follow /api/v1/events from.",
                "parameters": [
                    {"name": "brand", "in": "query", "schema": {"type": "string"}, "description": "Only this brand's tickets (code)."},
                    {"name": "market", "in": "query", "schema": {"type": "string"}, "description": "Only this market's tickets (code)."},
                    {"name": "channel", "in": "query", "schema": {"type": "string"}, "description": "Only this channel's tickets (code)."}
                ],
                "responses": merge(json!({"200": ok("Board", "Columns and cards.")}), errors(&[common[0], common[1], common[3], ("404", "No such brand, market or channel."), ("422", "A code is malformed.")]))
            }},
            "/api/v1/events": {"get": {
                "summary": "Ticket history as Server-Sent Events, the source MCP resource subscriptions use: `event: ticket`, `id:` the history id, data {ticket_id, history_id, event, to_status, column, at}; `: keep-alive` comments every 15 s. Send Last-Event-ID (an id this stream sent, or the board's last_event_id) to get every entry after it first. A client too far behind gets `event: resync` and should reload the board. A brand-scoped key sees only its brands' tickets.",
                "parameters": [{"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer", "format": "int64"}}],
                "responses": merge(json!({"200": {"description": "The event stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}), errors(&[common[0], common[1], ("422", "Last-Event-ID is not a number.")]))
            }},
            "/api/v1/tickets/{id}/payloads": {"get": {
                "summary": "The exact request bodies the ticket would send to its platform, in order, with money in the platform's units (as preview_payloads).",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("TranslatedPayloads", "The requests.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id is not a number, or the payload cannot be translated.")]))
            }},
            "/api/v1/tickets/{id}/deploys": {"get": {
                "summary": "The ticket's deploy: latest run, next retry, parsed last platform error and the most recent requests (as get_deploy_status).",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("DeployStatus", "Runs and attempts.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/tickets/{id}/pacing": {"get": {
                "summary": "Budget pacing of a deployed ticket as of the last sync, with the verdict and the platforms' reasons (as get_pacing).",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("PacingOutput", "The pacing.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/tickets/{id}/insights": {"get": {
                "summary": "A deployed ticket's daily metrics (spend exact in the brand's currency, impressions, clicks, conversions) as of the last sync (as get_insights).",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}},
                    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "First day (default: 30 days before `to`)."},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Last day, inclusive (default: today, UTC)."}
                ],
                "responses": merge(json!({"200": ok("InsightsOutput", "The metrics by day.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id or a date is malformed.")]))
            }},
            "/api/v1/tickets/{id}/guideline-review": {"post": {
                "summary": "Review the ticket against its brand's guidelines (as review_ticket_against_guidelines): findings with severity, rule, what to change and citation.",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("ReviewOutput", "The findings.")}), errors(&[common[0], common[1], common[3], ("404", "No such ticket."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/guidelines": {"get": {
                "summary": "Ingested guideline documents the key may see (as list_guidelines).",
                "parameters": [{"name": "brand", "in": "query", "schema": {"type": "string"}, "description": "Only this brand's documents (code)."}],
                "responses": merge(json!({"200": ok("GuidelineList", "The documents.")}), errors(&[common[0], common[1], common[3]]))
            }},
            "/api/v1/guidelines/{id}": {"get": {
                "summary": "A guideline document with its text page by page: what a copilot citation points at.",
                "parameters": id_param,
                "responses": merge(json!({"200": ok("GuidelineText", "The document.")}), errors(&[common[0], common[1], common[3], ("404", "No such document."), ("422", "The id is not a number.")]))
            }},
            "/api/v1/markets": {"get": {
                "summary": "Markets, archived ones included unless include_archived=false.",
                "parameters": [{"name": "include_archived", "in": "query", "schema": {"type": "boolean"}}],
                "responses": merge(json!({"200": ok("MarketList", "The markets.")}), errors(&[common[0], common[1], common[3], ("422", "A bad query parameter.")]))
            }},
            "/api/v1/markets/{code}": {"patch": {
                "summary": "Change a market (admin with a key for every brand; as update_market). A new_code renames draft tickets; call /api/v1/rename-impact first.",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MarketPatch"}}}},
                "responses": merge(json!({"200": ok("MarketUpdate", "The market, and the tickets renamed.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such market."), ("409", "The new code is taken."), ("415", "No JSON body."), ("422", "A field is wrong; the error names it.")]))
            }},
            "/api/v1/brands": {"get": {
                "summary": "Brands (a brand-scoped key: its own), archived ones included unless include_archived=false.",
                "parameters": [{"name": "include_archived", "in": "query", "schema": {"type": "boolean"}}],
                "responses": merge(json!({"200": ok("BrandList", "The brands.")}), errors(&[common[0], common[1], common[3], ("422", "A bad query parameter.")]))
            }},
            "/api/v1/brands/{code}": {"patch": {
                "summary": "Change a brand (admin; as update_brand). A new_code renames draft tickets; call /api/v1/rename-impact first.",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BrandPatch"}}}},
                "responses": merge(json!({"200": ok("BrandUpdate", "The brand, and the tickets renamed.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such brand."), ("409", "The new code is taken."), ("415", "No JSON body."), ("422", "A field is wrong; the error names it.")]))
            }},
            "/api/v1/channels": {"get": {
                "summary": "Channels, archived ones included unless include_archived=false.",
                "parameters": [{"name": "include_archived", "in": "query", "schema": {"type": "boolean"}}],
                "responses": merge(json!({"200": ok("ChannelList", "The channels.")}), errors(&[common[0], common[1], common[3], ("422", "A bad query parameter.")]))
            }},
            "/api/v1/channels/{code}": {"patch": {
                "summary": "Change a channel (admin with a key for every brand; as update_channel). A new_code renames draft tickets; call /api/v1/rename-impact first.",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChannelPatch"}}}},
                "responses": merge(json!({"200": ok("ChannelUpdate", "The channel, and the tickets renamed.")}), errors(&[common[0], common[1], common[3], common[2], ("400", "The body is not JSON."), ("404", "No such channel."), ("409", "The new code is taken, or the channel has open tickets."), ("415", "No JSON body."), ("422", "A field is wrong; the error names it.")]))
            }},
            "/api/v1/rename-impact": {"get": {
                "summary": "What renaming a brand, market or channel code would change, without changing anything (as rename_impact; keys for every brand).",
                "parameters": [
                    {"name": "segment", "in": "query", "required": true, "schema": {"type": "string", "enum": ["brand", "market", "channel"]}},
                    {"name": "code", "in": "query", "required": true, "schema": {"type": "string"}},
                    {"name": "new_code", "in": "query", "required": true, "schema": {"type": "string"}}
                ],
                "responses": merge(json!({"200": ok("RenameImpact", "Campaigns using the code, draft tickets renamed, live tickets keeping their names.")}), errors(&[common[0], common[1], common[3], ("404", "No such code."), ("422", "A parameter is missing or malformed.")]))
            }}
    })
}
