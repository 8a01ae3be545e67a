//! `GET /v1/templates`, `GET /v1/templates/{name or id}`, `DELETE /v1/templates/{id}` (refused while
//! live sandboxes use it; a custom template's image goes with it).

use api_types::control::{Template, TemplateDeleted, TemplateList};
use api_types::error::ControlErrorBody;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::http::extract::{ApiPath, ApiQuery, Caller};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use db::{self, templates::TemplateRef};
use scheduler::views;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/templates", get(list))
        .route("/v1/templates/{template}", get(get_one).delete(delete))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    category: Option<String>,
    language: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/templates",
    tag = "templates",
    operation_id = "list_templates",
    summary = "The built-in, public and own templates",
    params(ListQuery),
    responses((status = 200, description = "The templates", body = TemplateList))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<TemplateList>, ApiError> {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let rows = db::templates::list_visible(
        &state.pool,
        caller.organization_id,
        nonempty(&q.category).as_deref(),
        nonempty(&q.language).as_deref(),
    )
    .await?;
    Ok(Json(TemplateList {
        object: "list".into(),
        data: rows.iter().map(views::template).collect(),
        request_id: request_id::current(),
    }))
}

async fn find(
    state: &AppState,
    caller: Caller,
    template: &str,
) -> Result<db::templates::TemplateRow, ApiError> {
    let not_found = || ApiError::TemplateNotFound(template.chars().take(64).collect());
    let by = TemplateRef::parse(template).ok_or_else(not_found)?;
    db::templates::find_visible(&state.pool, caller.organization_id, by)
        .await?
        .ok_or_else(not_found)
}

#[utoipa::path(
    get,
    path = "/v1/templates/{template}",
    tag = "templates",
    operation_id = "get_template",
    summary = "Get a template by name or id",
    params(("template" = String, Path, description = "Template name or id")),
    responses(
        (status = 200, description = "The template", body = Template),
        (status = 404, description = "Unknown or another organization's", body = ControlErrorBody),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(template): ApiPath<String>,
) -> Result<Json<Template>, ApiError> {
    Ok(Json(views::template(
        &find(&state, caller, &template).await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/templates/{template}",
    tag = "templates",
    operation_id = "delete_template",
    summary = "Delete an own template and its image",
    params(("template" = String, Path, description = "Template name or id")),
    responses(
        (status = 200, description = "Deleted", body = TemplateDeleted),
        (status = 403, body = ControlErrorBody,
         description = "Built-in or another organization's public template"),
        (status = 404, description = "Unknown or another organization's", body = ControlErrorBody),
        (status = 409, body = ControlErrorBody,
         description = "Live sandboxes use it (`TEMPLATE_IN_USE`)"),
    )
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(template): ApiPath<String>,
) -> Result<Json<TemplateDeleted>, ApiError> {
    let row = find(&state, caller, &template).await?;
    if row.organization_id != Some(caller.organization_id) {
        return Err(ApiError::TemplateProtected);
    }
    let live = db::template_builds::live_sandboxes(&state.pool, row.id).await?;
    if live > 0 {
        return Err(ApiError::TemplateInUse(live));
    }
    if !db::templates::delete_owned(&state.pool, caller.organization_id, row.id).await? {
        return Err(ApiError::TemplateNotFound(
            template.chars().take(64).collect(),
        ));
    }
    if !row.image.is_empty() {
        state.builds.remove_image(&row.image).await;
    }
    Ok(Json(TemplateDeleted {
        id: row.id.to_string(),
        status: "deleted".into(),
        request_id: request_id::current(),
    }))
}
