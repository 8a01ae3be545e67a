//! `POST /v1/templates/files/upload-link` and the upload URL it hands out, served here: COPY sources
//! as a gzip tar, content-addressed by the client's `files_hash` (CONTRACT.md §2.3 step 2).

use api_types::control::{UploadLink, UploadLinkRequest};
use api_types::error::ControlErrorBody;
use axum::body::Body;
use axum::extract::State;
use axum::routing::{post, put};
use axum::{Json, Router};
use chrono::Utc;
use futures::StreamExt as _;
use http::HeaderMap;
use rand::RngCore as _;
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use crate::http::extract::{ApiPath, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use db::template_uploads;
use template_spec::check_files_hash;

const UPLOAD_PATH: &str = "/v1/templates/files/upload";

/// Behind authentication.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/templates/files/upload-link", post(upload_link))
}

/// Without authentication: the URL's token is the credential (clients send no auth headers).
pub fn public_routes() -> Router<AppState> {
    Router::new().route(&format!("{UPLOAD_PATH}/{{token}}"), put(upload))
}

/// This server's base URL as the client reaches it.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.settings.templates.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
        .map_or_else(|| format!("127.0.0.1:{}", state.listen_port), str::to_owned);
    format!("{}://{host}", state.settings.router.scheme)
}

#[utoipa::path(
    post,
    path = "/v1/templates/files/upload-link",
    tag = "template builds",
    operation_id = "template_upload_link",
    summary = "Where to upload the files of a COPY step, unless they are here already",
    request_body = UploadLinkRequest,
    responses(
        (status = 200, body = UploadLink,
         description = "`present`, or the URL to PUT the archive to"),
        (status = 400, body = ControlErrorBody,
         description = "Bad `files_hash` or `content_length`"),
        (status = 413, description = "Over `templates.max_upload_bytes`", body = ControlErrorBody),
    )
)]
async fn upload_link(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<UploadLinkRequest>,
) -> Result<Json<UploadLink>, ApiError> {
    check_files_hash(&req.files_hash).map_err(ApiError::InvalidRequest)?;
    let settings = &state.settings.templates;
    let size = u64::try_from(req.content_length)
        .map_err(|_| ApiError::InvalidRequest("content_length must not be negative".into()))?;
    if size > settings.max_upload_bytes {
        return Err(ApiError::UploadTooLarge {
            limit: settings.max_upload_bytes,
        });
    }
    let mut token = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut token);
    let row = template_uploads::announce(
        &state.pool,
        caller.organization_id,
        &req.files_hash,
        req.content_length,
        &hex::encode(token),
        f64::from(settings.upload_ttl_seconds),
    )
    .await?;
    let expires_at = Utc::now() + chrono::Duration::seconds(settings.upload_ttl_seconds.into());
    Ok(Json(UploadLink {
        present: row.uploaded,
        upload_url: (!row.uploaded).then(|| {
            format!(
                "{}{UPLOAD_PATH}/{}",
                public_base(&state, &headers),
                row.upload_token
            )
        }),
        expires_at: (!row.uploaded).then_some(expires_at),
        files_hash: Some(row.files_hash),
        request_id: request_id::current(),
    }))
}

/// An upload received.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Uploaded {
    files_hash: String,
    size: u64,
}

#[utoipa::path(
    put,
    path = "/v1/templates/files/upload/{token}",
    tag = "template builds",
    operation_id = "template_upload",
    summary = "Upload the gzip tar of a COPY step's files; the URL's token is the credential",
    security(()),
    params(("token" = String, Path, description = "From the upload link")),
    request_body(content = String, content_type = "application/gzip",
        description = "Exactly the announced `content_length` bytes"),
    responses(
        (status = 200, description = "Stored", body = Uploaded),
        (status = 400, description = "Fewer bytes than announced", body = ControlErrorBody),
        (status = 404, description = "No pending upload at this URL", body = ControlErrorBody),
        (status = 408, description = "The body arrived too slowly", body = ControlErrorBody),
        (status = 413, description = "More bytes than announced", body = ControlErrorBody),
    )
)]
async fn upload(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    body: Body,
) -> Result<Json<Uploaded>, ApiError> {
    let ttl = f64::from(state.settings.templates.upload_ttl_seconds);
    let row = template_uploads::by_token(&state.pool, &token, ttl)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    let store = &state.builds.uploads;
    let partial = store.partial_path(row.organization_id, &token);
    let written = receive(body, &partial, row.content_length.unsigned_abs()).await;
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    tokio::fs::rename(&partial, store.path(row.organization_id, &row.files_hash))
        .await
        .map_err(ApiError::internal)?;
    template_uploads::mark_uploaded(&state.pool, &token).await?;
    Ok(Json(Uploaded {
        files_hash: row.files_hash,
        size,
    }))
}

/// Streams the body to `path`; exactly `expected` bytes are accepted.
async fn receive(body: Body, path: &std::path::Path, expected: u64) -> Result<u64, ApiError> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(ApiError::internal)?;
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidRequest(format!("reading the upload: {e}")))?;
        size += chunk.len() as u64;
        if size > expected {
            return Err(ApiError::UploadTooLarge { limit: expected });
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    if size != expected {
        return Err(ApiError::InvalidRequest(format!(
            "the upload has {size} bytes, content_length announced {expected}"
        )));
    }
    file.sync_all().await.map_err(ApiError::internal)?;
    Ok(size)
}
