//! `templates`: built-in ones (no organization, public) and an organization's own.

use chrono::{DateTime, Utc};
use runtime::Isolation;
use sqlx::PgExecutor;

#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    pub image: String,
    /// `container` or `gvisor`: read it with [`isolation`].
    pub isolation: String,
    pub status: String,
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_gb: i32,
    pub features: Vec<String>,
    pub tags: Vec<String>,
    pub is_public: bool,
    pub organization_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored `isolation` column. A CHECK constraint keeps it one of [`Isolation`]'s names; a value
/// a later version wrote and this one does not know counts as the stronger isolation.
pub fn isolation(stored: &str) -> Isolation {
    stored.parse().unwrap_or(Isolation::Gvisor)
}

/// Templates `org_id` may see: public ones and its own.
pub async fn list_visible(
    db: impl PgExecutor<'_>,
    org_id: i64,
    category: Option<&str>,
    language: Option<&str>,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    sqlx::query_as!(
        TemplateRow,
        "SELECT id, name, display_name, description, category, language, image, isolation, status,
                vcpu, memory_mb, disk_gb, features, tags, is_public, organization_id, created_at,
                updated_at
         FROM templates
         WHERE (is_public OR organization_id = $1)
           AND ($2::text IS NULL OR category = $2)
           AND ($3::text IS NULL OR language = $3)
         ORDER BY id",
        org_id,
        category,
        language,
    )
    .fetch_all(db)
    .await
}

/// How a template is named in a request.
#[derive(Debug, Clone, Copy)]
pub enum TemplateRef<'a> {
    Id(i64),
    Name(&'a str),
}

impl<'a> TemplateRef<'a> {
    /// All digits means an id, anything else a name.
    pub fn parse(s: &'a str) -> Option<Self> {
        if s.is_empty() || s.len() > 128 {
            None
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Self::Id)
        } else {
            Some(Self::Name(s))
        }
    }
}

/// A template `org_id` may see; by name, the organization's own wins over a public one.
pub async fn find_visible(
    db: impl PgExecutor<'_>,
    org_id: i64,
    by: TemplateRef<'_>,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    let (id, name) = match by {
        TemplateRef::Id(id) => (Some(id), None),
        TemplateRef::Name(n) => (None, Some(n)),
    };
    sqlx::query_as!(
        TemplateRow,
        "SELECT id, name, display_name, description, category, language, image, isolation, status,
                vcpu, memory_mb, disk_gb, features, tags, is_public, organization_id, created_at,
                updated_at
         FROM templates
         WHERE (is_public OR organization_id = $1)
           AND ($2::bigint IS NULL OR id = $2)
           AND ($3::text IS NULL OR name = $3)
         ORDER BY organization_id NULLS LAST
         LIMIT 1",
        org_id,
        id,
        name,
    )
    .fetch_optional(db)
    .await
}

/// Deletes one of the organization's own templates.
pub async fn delete_owned(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM templates WHERE id = $1 AND organization_id = $2",
        id,
        org_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
