//! The OpenAPI 3 document of the REST API, built from the same schemars schemas that type the
//! handlers' inputs and outputs, so it cannot drift from the code.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::capi::{SendEventsInput, SendEventsOutput};
use crate::changes::{ChangeDecision, ChangeList, ChangeView};
use crate::copilot::{Answer, ChatInput};
use crate::domain::TicketView;
use crate::healing::{DecisionOutput, FixList, FixProposalView};

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
    let schemas = Value::Object(generator.take_definitions(true));
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
            "description": "Review self-healing fix proposals and changes to live campaigns, read tickets, ask the brand-guideline copilot and send conversion events. Authenticate with `Authorization: Bearer <key>` (`omnitraffick keys create`). Every error has the body {\"error\": {\"code\", \"message\", \"field\"}}."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
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
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas
        }
    })
}
