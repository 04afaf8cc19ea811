//! The OpenAPI document served at /api/v1/openapi.json is valid OpenAPI 3, checked with the
//! reference validator (`openapi-spec-validator` from PyPI; `.ci/run` installs it). Without
//! it the check is reported as skipped, except under CI=true where it is required.

mod common;

use common::*;

#[tokio::test]
async fn openapi_document_is_valid_and_covers_the_rest_api() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let doc = common::rest::ok200(Rest::new(&server, None).openapi().await);
    server.stop().await;
    // The document describes exactly the routes the router serves, method by method.
    let mut routed: Vec<(String, String)> = omnitraffick::http::api::route_list()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    routed.sort();
    documented.sort();
    assert_eq!(documented, routed);
    assert!(routed.contains(&("post".into(), "/api/v1/capi/events".into())));
    for schema in [
        "FixList",
        "FixProposalView",
        "DecisionOutput",
        "TicketView",
        "ErrorBody",
        "Answer",
        "ChatInput",
        "SendEventsInput",
        "SendEventsOutput",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} is missing"
        );
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openapi-spec-validator is required under CI=true"
            );
            eprintln!(
                "SKIPPED the OpenAPI validator: pip install openapi-spec-validator to run it"
            );
        }
        Ok(o) => panic!(
            "the OpenAPI document is invalid:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "python3 is required under CI=true: {e}"
            );
            eprintln!("SKIPPED the OpenAPI validator: python3 is not available ({e})");
        }
    }
}
