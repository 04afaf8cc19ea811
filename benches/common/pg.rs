//! A throw-away PostgreSQL database for the benchmarks that also run at scale
//! (`BENCH_DATABASE_URL`: a server where the user may create databases).

/// A fresh PostgreSQL database on the server in `admin_url`; dropped by the caller.
pub async fn pg_database(admin_url: &str, tag: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let name = format!("omni_bench_{}_{tag}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    // The same server and settings (`?sslmode=disable`, say), another database.
    let url = admin_url
        .parse::<sqlx::postgres::PgConnectOptions>()?
        .database(&name);
    Ok((sqlx::ConnectOptions::to_url_lossy(&url).to_string(), name))
}

pub async fn drop_pg_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}
