//! `POST/GET /v1/volumes`, `GET/DELETE /v1/volumes/{name_or_id}`: Warren's volumes.

use api_types::error::ControlErrorBody;
use api_types::volumes::{CreateVolume, VolumeDeleted, VolumeList, VolumeResponse};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use crate::http::extract::{ApiPath, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use scheduler::volumes;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/volumes", post(create).get(list))
        .route("/v1/volumes/{name_or_id}", get(get_one).delete(delete))
}

#[utoipa::path(
    post,
    path = "/v1/volumes",
    tag = "volumes",
    operation_id = "create_volume",
    summary = "Create a volume",
    request_body = CreateVolume,
    responses(
        (status = 201, body = VolumeResponse, description = "Created, ready to mount"),
        (status = 400, body = ControlErrorBody,
         description = "Bad name or `size_mb` (over `volumes.max_size_mb`)"),
        (status = 403, body = ControlErrorBody,
         description = "The organization's volume quota would be exceeded (`VOLUME_QUOTA_EXCEEDED`)"),
        (status = 409, body = ControlErrorBody,
         description = "The organization has a volume of this name (`VOLUME_EXISTS`)"),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateVolume>,
) -> Result<(StatusCode, Json<VolumeResponse>), ApiError> {
    let volume = volumes::create(&state, caller.organization_id, &req).await?;
    let body = VolumeResponse {
        volume,
        request_id: request_id::current(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get,
    path = "/v1/volumes",
    tag = "volumes",
    operation_id = "list_volumes",
    summary = "List the organization's volumes, oldest first",
    responses((status = 200, body = VolumeList, description = "Every volume, and the quota"))
)]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<VolumeList>, ApiError> {
    let (data, used_mb) = volumes::list(&state, caller.organization_id).await?;
    Ok(Json(VolumeList {
        object: "list".into(),
        data,
        used_mb,
        quota_mb: state.settings.volumes.org_quota_mb.into(),
        request_id: request_id::current(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/volumes/{name_or_id}",
    tag = "volumes",
    operation_id = "get_volume",
    summary = "Get a volume",
    params(("name_or_id" = String, Path, description = "Volume name or id")),
    responses(
        (status = 200, body = VolumeResponse, description = "The volume"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's (`VOLUME_NOT_FOUND`)"),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name_or_id): ApiPath<String>,
) -> Result<Json<VolumeResponse>, ApiError> {
    let volume = volumes::get(&state, caller.organization_id, &name_or_id).await?;
    Ok(Json(VolumeResponse {
        volume,
        request_id: request_id::current(),
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/volumes/{name_or_id}",
    tag = "volumes",
    operation_id = "delete_volume",
    summary = "Delete a volume and its data",
    params(("name_or_id" = String, Path, description = "Volume name or id")),
    responses(
        (status = 200, body = VolumeDeleted, description = "Deleted"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's (`VOLUME_NOT_FOUND`)"),
        (status = 409, body = ControlErrorBody,
         description = "Live sandboxes mount it (`VOLUME_IN_USE`, their ids in `details.sandbox_ids`)"),
    )
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name_or_id): ApiPath<String>,
) -> Result<Json<VolumeDeleted>, ApiError> {
    let id = volumes::delete(&state, caller.organization_id, &name_or_id).await?;
    Ok(Json(VolumeDeleted {
        id,
        deleted: true,
        request_id: request_id::current(),
    }))
}
