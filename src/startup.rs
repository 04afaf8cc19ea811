//! Building the application from configuration, shared by `main` and the tests.

use crate::error::AppResult;
use crate::governance::Governance;
use crate::mcp::AppServices;
use crate::platforms::ApiVersions;
use crate::qa::QaService;
use crate::store::Db;

/// Connect to the database, apply migrations and build the services (default API versions).
pub async fn open(database_url: &str) -> AppResult<(Db, AppServices)> {
    open_with(database_url, ApiVersions::default()).await
}

/// As [`open`], targeting the given platform API versions.
pub async fn open_with(database_url: &str, versions: ApiVersions) -> AppResult<(Db, AppServices)> {
    let db = Db::connect(database_url).await?;
    db.migrate().await?;
    let governance = Governance::new(db.clone()).await?;
    let qa = QaService::new(governance.clone(), versions);
    Ok((db, AppServices { governance, qa }))
}
