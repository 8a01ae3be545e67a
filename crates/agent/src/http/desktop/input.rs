//! Mouse and keyboard: `/desktop/mouse/*`, `/desktop/keyboard/*`, and the x11 drag-and-drop and
//! hotkey routes (the same operations under other names).

use axum::Router;
use axum::routing::post;
use desktop::input::{Click, Combination, Drag, Move, Press, Scroll, Type};

use super::{Desk, Done, done};
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/mouse/click", post(click))
        .route("/desktop/mouse/move", post(move_to))
        .route("/desktop/mouse/drag", post(drag))
        .route("/desktop/x11/drag_drop", post(drag))
        .route("/desktop/x11/drag-drop", post(drag))
        .route("/desktop/mouse/scroll", post(scroll))
        .route("/desktop/keyboard/type", post(type_text))
        .route("/desktop/keyboard/press", post(press))
        .route("/desktop/keyboard/combination", post(combination))
        .route("/desktop/x11/hotkey", post(combination))
}

async fn click(Desk(d): Desk, ApiJson(req): ApiJson<Click>) -> ApiResult<Done> {
    d.click(&req).await?;
    Ok(done())
}

async fn move_to(Desk(d): Desk, ApiJson(req): ApiJson<Move>) -> ApiResult<Done> {
    d.move_to(&req).await?;
    Ok(done())
}

async fn drag(Desk(d): Desk, ApiJson(req): ApiJson<Drag>) -> ApiResult<Done> {
    d.drag(&req).await?;
    Ok(done())
}

async fn scroll(Desk(d): Desk, ApiJson(req): ApiJson<Scroll>) -> ApiResult<Done> {
    d.scroll(&req).await?;
    Ok(done())
}

async fn type_text(Desk(d): Desk, ApiJson(req): ApiJson<Type>) -> ApiResult<Done> {
    d.type_text(&req).await?;
    Ok(done())
}

async fn press(Desk(d): Desk, ApiJson(req): ApiJson<Press>) -> ApiResult<Done> {
    d.press(&req).await?;
    Ok(done())
}

async fn combination(Desk(d): Desk, ApiJson(req): ApiJson<Combination>) -> ApiResult<Done> {
    d.combination(&req).await?;
    Ok(done())
}
