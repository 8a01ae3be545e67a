//! What live sandboxes hold, for admission control: creating, running and paused sandboxes plus the
//! warm pool (stopped sandboxes hold nothing).

use sqlx::PgConnection;

/// Advisory-lock key serialising admission decisions of every replica on one database.
const ADMISSION_LOCK: i64 = 0x5741_5252_454e_0001;

/// Resources committed to live sandboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub vcpu: i64,
    pub memory_mb: i64,
}

/// Takes the admission lock until the transaction ends, then sums what is committed. Whoever inserts a
/// row that holds resources calls this first, in the same transaction.
pub async fn lock_and_sum(conn: &mut PgConnection) -> Result<Committed, sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", ADMISSION_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as!(
        Committed,
        r#"SELECT COALESCE(sum(vcpu), 0)::bigint AS "vcpu!", COALESCE(sum(memory_mb), 0)::bigint AS "memory_mb!"
           FROM (SELECT vcpu, memory_mb FROM sandboxes WHERE status IN ('creating', 'running', 'paused')
                 UNION ALL
                 SELECT vcpu, memory_mb FROM pool_sandboxes) AS live"#,
    )
    .fetch_one(conn)
    .await
}
