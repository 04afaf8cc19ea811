//! JSON Patch on a ticket's payload_config: applying it (bounded, to a copy), a readable
//! diff for reviewers, and the key that groups proposals by platform error.

use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::platforms::client::PlatformError;

pub(super) fn error_key(e: &PlatformError) -> String {
    format!(
        "{}:{}:{}",
        e.platform.as_str(),
        e.code.as_deref().unwrap_or("-"),
        e.subcode.as_deref().unwrap_or("-")
    )
}

pub(super) fn readable_diff(before: &Value, after: &Value) -> Vec<String> {
    json_patch::diff(before, after)
        .0
        .iter()
        .map(|op| match op {
            json_patch::PatchOperation::Add(a) => format!("add {}: {}", a.path, a.value),
            json_patch::PatchOperation::Remove(r) => {
                let old = before
                    .pointer(&r.path.to_string())
                    .cloned()
                    .unwrap_or(Value::Null);
                format!("remove {} (was {old})", r.path)
            }
            json_patch::PatchOperation::Replace(r) => {
                let old = before
                    .pointer(&r.path.to_string())
                    .cloned()
                    .unwrap_or(Value::Null);
                format!("replace {}: {old} -> {}", r.path, r.value)
            }
            other => format!("{other:?}"),
        })
        .collect()
}

/// Apply an RFC 6902 patch to a copy of `doc`.
pub fn apply_patch(doc: &Value, patch: &Value) -> AppResult<Value> {
    crate::platforms::spec::check_shape("patch", patch)?;
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
        AppError::validation(
            "patch",
            format!("is not an RFC 6902 JSON Patch ({e}); send e.g. [{{\"op\": \"remove\", \"path\": \"/targeting/interests/1\"}}]"),
        )
    })?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops).map_err(|e| {
        AppError::validation(
            "patch",
            format!("does not apply to the ticket's payload_config: {e}"),
        )
    })?;
    Ok(out)
}
