//! Tool argument extraction that names the offending field. rmcp's own `Parameters` turns a
//! type mismatch into a JSON-RPC error without a path; assistants fix their calls faster
//! when told "year: invalid type: string, expected i32", as a tool error they can read.
//! The `#[tool]` macro finds the argument type by the name `Parameters`, so this keeps it.

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::ErrorCode;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// Marker in `ErrorData::data` that tells `call_tool` to report this as a tool error.
pub const INPUT_ERROR_MARKER: &str = "omnitraffick_input_error";

pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        let value = serde_json::Value::Object(arguments);
        serde_path_to_error::deserialize::<_, P>(value)
            .map(Parameters)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let (field, message) = if path == "." || path.is_empty() {
                    // Top-level problems (missing or unknown fields) name the field in the text.
                    (field_from_message(&inner), inner)
                } else {
                    (Some(path.clone()), format!("{path}: {inner}"))
                };
                rmcp::ErrorData::new(
                    ErrorCode::INVALID_PARAMS,
                    message,
                    Some(serde_json::json!({ INPUT_ERROR_MARKER: { "field": field } })),
                )
            })
    }
}

/// serde says "missing field `year`" or "unknown field `yeer`, expected one of ...".
fn field_from_message(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_owned())
}
