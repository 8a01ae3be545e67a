//! What `GET /metrics` reads from Postgres at each scrape.

use sqlx::PgExecutor;

/// How many sandboxes (or warm-pool sandboxes) are in one state.
pub struct StateCount {
    pub pooled: bool,
    pub state: String,
    pub count: i64,
}

/// Sandboxes by state (deleted ones left out) and warm-pool sandboxes by state, in one statement.
pub async fn states(db: impl PgExecutor<'_>) -> Result<Vec<StateCount>, sqlx::Error> {
    sqlx::query_as!(
        StateCount,
        r#"SELECT false AS "pooled!", status AS "state!", count(*) AS "count!"
           FROM sandboxes WHERE status <> 'deleted' GROUP BY status
           UNION ALL
           SELECT true, status, count(*) FROM pool_sandboxes GROUP BY status"#
    )
    .fetch_all(db)
    .await
}

/// Template builds by status (the last build of each custom template).
pub async fn builds(db: impl PgExecutor<'_>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT status AS "status!", count(*) AS "count!" FROM template_builds GROUP BY status"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.count)).collect())
}
