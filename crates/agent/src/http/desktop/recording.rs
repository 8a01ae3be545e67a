//! `/desktop/recording/*`: start, stop, status and download, by `?id=` (Python) or in the path
//! (TypeScript), or the running recording when no id is given.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use desktop::recording::{Info, Start, Stop};
use serde::Deserialize;

use super::{Desk, OptionalJson};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/recording/start", post(start))
        .route("/desktop/recording/stop", post(stop))
        .route("/desktop/recording/status", get(status))
        .route("/desktop/recording/download", get(download))
        .route("/desktop/recording/{id}/download", get(download_path))
}

#[derive(Deserialize)]
struct IdQuery {
    id: Option<String>,
    recording_id: Option<String>,
}

impl IdQuery {
    fn id(&self) -> Option<&str> {
        self.id.as_deref().or(self.recording_id.as_deref())
    }
}

async fn start(Desk(d): Desk, OptionalJson(req): OptionalJson<Start>) -> ApiResult<Json<Info>> {
    Ok(Json(d.start_recording(&req).await?))
}

async fn stop(Desk(d): Desk, OptionalJson(req): OptionalJson<Stop>) -> ApiResult<Json<Info>> {
    Ok(Json(d.stop_recording(&req).await?))
}

async fn status(Desk(d): Desk, Query(q): Query<IdQuery>) -> ApiResult<Json<Info>> {
    Ok(Json(d.recording(q.id())?))
}

async fn download(Desk(d): Desk, Query(q): Query<IdQuery>) -> ApiResult<Response> {
    let id = q.id().ok_or_else(|| ApiError::missing("id"))?.to_owned();
    mp4(&d, &id).await
}

async fn download_path(Desk(d): Desk, Path(id): Path<String>) -> ApiResult<Response> {
    mp4(&d, &id).await
}

async fn mp4(d: &desktop::Desktop, id: &str) -> ApiResult<Response> {
    let bytes = d.recording_file(id).await?;
    let disposition = format!("attachment; filename=\"recording-{id}.mp4\"");
    Ok((
        [
            (header::CONTENT_TYPE, "video/mp4".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
