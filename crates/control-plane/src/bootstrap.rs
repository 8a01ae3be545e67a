//! First-start bootstrap (`[bootstrap]`): when the organization `bootstrap.organization` does not
//! exist, `serve` creates it with one API key, the one of `bootstrap.api_key` (stored hashed only)
//! or a new one, shown once.

use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;

use api_keys as keys;

/// What the bootstrap found or did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The organization existed already: nothing was done.
    Existed,
    /// The organization was created with the configured key.
    CreatedWithGivenKey,
    /// The organization was created with this new key, to show once.
    CreatedWithNewKey(String),
}

/// Creates `org` with its key unless it exists (one transaction: never an organization without its
/// key; replicas starting together create it once).
pub async fn run(
    pool: &PgPool,
    org: &str,
    api_key: Option<&SecretString>,
) -> anyhow::Result<Outcome> {
    if db::orgs::find_by_name(pool, org).await?.is_some() {
        return Ok(Outcome::Existed);
    }
    let mut tx = pool.begin().await?;
    // A replica bootstrapping at the same time waits on the unique name, then finds it taken.
    let created = match db::orgs::insert(&mut *tx, org, None, None).await {
        Ok(created) => created,
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => return Ok(Outcome::Existed),
        Err(e) => return Err(e.into()),
    };
    let (key_id, secret_hash, outcome) = match api_key {
        Some(given) => {
            let parsed = keys::parse(given.expose_secret())
                .ok_or_else(|| anyhow::anyhow!("bootstrap.api_key is not a well-formed key"))?;
            (
                parsed.key_id.to_owned(),
                keys::hash_secret(parsed.secret),
                Outcome::CreatedWithGivenKey,
            )
        }
        None => {
            let new = keys::generate();
            (
                new.key_id,
                new.secret_hash,
                Outcome::CreatedWithNewKey(new.full),
            )
        }
    };
    db::api_keys::insert(
        &mut *tx,
        created.id,
        &key_id,
        Some("bootstrap"),
        &secret_hash,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}
