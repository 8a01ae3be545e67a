//! What sandboxes hold, for admission control: creating, running and paused sandboxes plus the warm
//! pool hold vCPU and memory; those and stopped sandboxes (their disk is kept) hold disk, and so do
//! volumes (their size).

use lifecycle::SandboxStatus;
use sqlx::PgConnection;

/// Advisory-lock key serialising admission decisions of every replica on one database.
const ADMISSION_LOCK: i64 = 0x5741_5252_454e_0001;

/// Resources committed to sandboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    pub vcpu: i64,
    pub memory_mb: i64,
    pub disk_mb: i64,
}

/// What the whole machine and one organization hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub machine: Committed,
    pub organization: Committed,
}

/// Takes the admission lock until the transaction ends. Whoever inserts or moves a row that holds
/// resources calls this first, in the same transaction.
pub async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", ADMISSION_LOCK)
        .execute(conn)
        .await
        .map(drop)
}

/// Sums what is committed, on the machine and to `org_id` (none: the warm pool, owned by no one).
pub async fn sum(conn: &mut PgConnection, org_id: Option<i64>) -> Result<Held, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT COALESCE(sum(vcpu) FILTER (WHERE live), 0)::bigint AS "vcpu!",
                  COALESCE(sum(memory_mb) FILTER (WHERE live), 0)::bigint AS "memory_mb!",
                  COALESCE(sum(disk_mb), 0)::bigint AS "disk_mb!",
                  COALESCE(sum(vcpu) FILTER (WHERE live AND org = $1), 0)::bigint AS "org_vcpu!",
                  COALESCE(sum(memory_mb) FILTER (WHERE live AND org = $1), 0)::bigint AS "org_memory_mb!",
                  COALESCE(sum(disk_mb) FILTER (WHERE org = $1), 0)::bigint AS "org_disk_mb!"
           FROM (SELECT vcpu, memory_mb, disk_mb, organization_id AS org,
                        status = ANY($2) AS live
                 FROM sandboxes WHERE status = ANY($3)
                 UNION ALL
                 SELECT p.vcpu, p.memory_mb, t.disk_gb * 1024, NULL, true
                 FROM pool_sandboxes p JOIN templates t ON t.id = p.template_id
                 UNION ALL
                 SELECT 0, 0, size_mb, organization_id, false FROM volumes) AS held"#,
        org_id,
        &SandboxStatus::names_where(SandboxStatus::is_active),
        &SandboxStatus::names_where(SandboxStatus::is_live),
    )
    .fetch_one(conn)
    .await?;
    Ok(Held {
        machine: Committed {
            vcpu: row.vcpu,
            memory_mb: row.memory_mb,
            disk_mb: row.disk_mb,
        },
        organization: Committed {
            vcpu: row.org_vcpu,
            memory_mb: row.org_memory_mb,
            disk_mb: row.org_disk_mb,
        },
    })
}
