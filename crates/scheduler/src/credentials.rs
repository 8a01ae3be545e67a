//! A sandbox's credentials beyond the plain token refresh (docs/router.md "Credentials"): preview links
//! and their revocation, and token key rotation and revocation.
//!
//! A rotation locks the sandbox's row, gives the sandbox the new key (a running one's agent through an
//! authorized key push, a stopped one's runtime for its next start), and only then records it, so
//! that a failed push changes nothing. The previous key keeps verifying until the grace deadline (at
//! most two keys at once: a second rotation within the grace drops the oldest).

use std::time::Duration;

use api_types::agent::KeyPushRequest;
use api_types::control::PreviewLinkRequest;
use axum::body::Body;
use chrono::{DateTime, Utc};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lifecycle::SandboxStatus;
use sandbox_token::{PreviewClaims, TokenKey};

use crate::Scheduler;
use crate::actions::issue_token;
use crate::views;
use api_error::ApiError;
use db::ids;
use router::access::PREVIEW_PARAM;
use router::host::AGENT_PORT;

/// How long a key push's authorization is valid.
const PUSH_TTL_SECONDS: i64 = 60;
/// How long the agent may take to answer a key push.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A freshly signed preview link.
pub struct PreviewLink {
    pub url: Option<String>,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub port: Option<u16>,
}

/// The outcome of a rotation: a token signed with the new key.
pub struct Rotation {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub previous_valid_until: Option<DateTime<Utc>>,
}

fn sandbox_id(id: &str) -> Result<&str, ApiError> {
    Some(id)
        .filter(|id| ids::is_sandbox_id(id))
        .ok_or(ApiError::SandboxNotFound)
}

fn seconds_from_now(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp() + seconds, 0).unwrap_or_default()
}

/// Signs a preview link for sandbox `id` of `org_id`.
pub async fn mint_preview_link(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    req: &PreviewLinkRequest,
) -> Result<PreviewLink, ApiError> {
    let settings = &state.settings.sandboxes;
    let max = i64::from(settings.max_token_lifetime_seconds);
    let expires_in = req
        .expires_in_seconds
        .unwrap_or(i64::from(settings.token_ttl_seconds));
    if !(1..=max).contains(&expires_in) {
        return Err(ApiError::InvalidRequest(format!(
            "expires_in_seconds must be between 1 and {max}"
        )));
    }
    if matches!(req.port, Some(0 | AGENT_PORT)) {
        return Err(ApiError::InvalidRequest(format!(
            "port must be a preview port: 1 to 65535 but not {AGENT_PORT} (the agent)"
        )));
    }
    let row = db::credentials::get(&state.pool, org_id, sandbox_id(id)?)
        .await?
        .ok_or(ApiError::SandboxNotFound)?;
    let key = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
    let expires_at = seconds_from_now(expires_in);
    let token = key.sign_preview(&PreviewClaims {
        sandbox_id: id.to_owned(),
        port: req.port,
        epoch: row.preview_epoch,
        expires_at: expires_at.timestamp(),
    });
    let url = req.port.map(|port| {
        let host = views::public_host(
            &state.settings.router,
            state.listen_port,
            &format!("{port}-{id}"),
        );
        format!("{host}/?{PREVIEW_PARAM}={token}")
    });
    Ok(PreviewLink {
        url,
        token,
        expires_at,
        port: req.port,
    })
}

/// Revokes every preview link of sandbox `id` signed so far.
pub async fn revoke_preview_links(
    state: &Scheduler,
    org_id: i64,
    id: &str,
) -> Result<(), ApiError> {
    // Committed at once: the routers refuse the old links from here on.
    let (status, _) = db::credentials::bump_preview_epoch(&state.pool, org_id, sandbox_id(id)?)
        .await?
        .ok_or(ApiError::SandboxNotFound)?;
    state.routes.changed(id, SandboxStatus::stored(&status));
    // The agent signs its desktop viewer's links with the epoch: a running one hears the new epoch
    // (with its current key, which stays), and what its next start reads gets it too. Under the row
    // lock, so a rotation at the same time cannot interleave a stale key or epoch. The links are
    // revoked either way; a failure here only leaves the viewer links the agent hands out refused.
    let mut tx = state.pool.begin().await?;
    let Some(row) = db::credentials::lock(&mut tx, org_id, sandbox_id(id)?).await? else {
        return Ok(());
    };
    let key = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
    let epoch = row.preview_epoch;
    let status = SandboxStatus::stored(&row.status);
    if status == SandboxStatus::Running {
        let pushed = push_key(id, row.agent_addr.as_deref(), &key, &key, None, Some(epoch)).await;
        if let Err(e) = pushed {
            tracing::warn!(sandbox.id = %id, error = %e, "the new preview epoch did not reach the agent");
        }
    }
    if let Some(runtime) = state.runtime.as_ref()
        && matches!(
            status,
            SandboxStatus::Running | SandboxStatus::Paused | SandboxStatus::Stopped
        )
        && let Err(e) = runtime.replace_credentials(id, &key.to_hex(), epoch).await
    {
        tracing::warn!(sandbox.id = %id, error = %e, "the new preview epoch was not stored for the next start");
    }
    tx.commit().await?;
    Ok(())
}

/// Rotates the token key of sandbox `id`; tokens of the old key keep working for `grace_seconds`
/// (default `sandboxes.token_rotation_grace_seconds`; 0: revoked at once).
pub async fn rotate(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    grace_seconds: Option<i64>,
) -> Result<Rotation, ApiError> {
    let settings = &state.settings.sandboxes;
    let max = i64::from(settings.max_token_lifetime_seconds);
    let grace = grace_seconds.unwrap_or(i64::from(settings.token_rotation_grace_seconds));
    if !(0..=max).contains(&grace) {
        return Err(ApiError::InvalidRequest(format!(
            "grace_seconds must be between 0 and {max}"
        )));
    }
    let mut tx = state.pool.begin().await?;
    let row = db::credentials::lock(&mut tx, org_id, sandbox_id(id)?)
        .await?
        .ok_or(ApiError::SandboxNotFound)?;
    let current = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
    let new = TokenKey::generate();
    let until = (grace > 0).then(|| seconds_from_now(grace));
    match SandboxStatus::stored(&row.status) {
        // Its agent takes the key now (running) and from what its next start reads (both): a restart
        // must never bring back the old key.
        SandboxStatus::Running => {
            let runtime = state.runtime.as_ref().ok_or(ApiError::RuntimeUnavailable)?;
            let epoch = Some(row.preview_epoch);
            push_key(id, row.agent_addr.as_deref(), &current, &new, until, epoch).await?;
            runtime
                .replace_credentials(id, &new.to_hex(), row.preview_epoch)
                .await?;
        }
        SandboxStatus::Stopped => {
            let runtime = state.runtime.as_ref().ok_or(ApiError::RuntimeUnavailable)?;
            runtime
                .replace_credentials(id, &new.to_hex(), row.preview_epoch)
                .await?;
        }
        other => {
            return Err(ApiError::InvalidTransition(format!(
                "Cannot rotate the token key of a sandbox that is {other}; retry once it runs or stopped"
            )));
        }
    }
    let previous = until.map(|u| (current.as_bytes(), u));
    db::credentials::set_keys(&mut tx, id, new.as_bytes(), previous).await?;
    tx.commit().await?;
    state.routes.changed(id, SandboxStatus::stored(&row.status));
    tracing::info!(sandbox.id = %id, grace_seconds = grace, "token key rotated");
    let (token, expires_at) = issue_token(state, &new, id);
    Ok(Rotation {
        token,
        expires_at,
        previous_valid_until: until,
    })
}

/// Installs `new` on the running agent at `agent_addr`, authorized by `current`.
async fn push_key(
    id: &str,
    agent_addr: Option<&str>,
    current: &TokenKey,
    new: &TokenKey,
    until: Option<DateTime<Utc>>,
    preview_epoch: Option<i64>,
) -> Result<(), ApiError> {
    let unreachable = |e: anyhow::Error| ApiError::AgentUnreachable(e);
    let addr = agent_addr.ok_or_else(|| unreachable(anyhow::anyhow!("no agent address")))?;
    let authorization = current.sign_key_push(id, Utc::now().timestamp() + PUSH_TTL_SECONDS, new);
    let body = KeyPushRequest {
        token_key: new.to_hex(),
        previous_valid_until: until.map(|u| u.timestamp()),
        preview_epoch,
    };
    let body = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let req = http::Request::post(format!("http://{addr}/_warren/keys"))
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {authorization}"),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|e| unreachable(e.into()))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let answered = tokio::time::timeout(PUSH_TIMEOUT, client.request(req))
        .await
        .map_err(|_| unreachable(anyhow::anyhow!("key push to {addr} timed out")))?
        .map_err(|e| unreachable(anyhow::Error::new(e).context(format!("key push to {addr}"))))?;
    if !answered.status().is_success() {
        let status = answered.status();
        return Err(unreachable(anyhow::anyhow!(
            "the agent at {addr} refused the key push: {status}"
        )));
    }
    Ok(())
}
