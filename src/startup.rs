//! Building the application from configuration, shared by `main` and the tests.

use crate::error::AppResult;
use crate::governance::Governance;
use crate::mcp::AppServices;
use crate::store::Db;

/// Connect to the database, apply migrations and build the services.
pub async fn open(database_url: &str) -> AppResult<(Db, AppServices)> {
    let db = Db::connect(database_url).await?;
    db.migrate().await?;
    let governance = Governance::new(db.clone()).await?;
    Ok((db, AppServices { governance }))
}
