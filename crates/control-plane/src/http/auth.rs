//! Authentication (CONTRACT.md §1.1) and the per-organization rate limit, as one middleware over the
//! in-process key cache and token leases ([`crate::auth_cache`]; at most one database statement).
//! Adds `X-RateLimit-Limit`, `-Remaining` and `-Reset` (unix seconds at which the bucket is full
//! again) to every authenticated response.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderMap, HeaderValue};

use crate::http::extract::Caller;
use crate::state::AppState;
use api_error::ApiError;
use api_keys as keys;

struct Budget {
    limit: u64,
    remaining: u64,
    reset_unix: i64,
}

impl Budget {
    fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_unix));
    }
}

pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, req.headers()).await {
        Err(e) => e.into_response(),
        Ok((caller, budget, allowed)) => {
            let mut response = match allowed {
                Ok(()) => {
                    req.extensions_mut().insert(caller);
                    next.run(req).await
                }
                Err(e) => {
                    state.metrics.rate_limited();
                    e.into_response()
                }
            };
            budget.apply(response.headers_mut());
            response
        }
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Caller, Budget, Result<(), ApiError>), ApiError> {
    let key = keys::presented(headers).ok_or(ApiError::MissingApiKey)?;
    let parsed = keys::parse(key).ok_or(ApiError::InvalidApiKey)?;
    let v = state.auth_cache.check(parsed.key_id, parsed.secret).await?;
    let now = Utc::now().timestamp();
    let budget = Budget {
        limit: v.limit as u64,
        remaining: v.remaining.max(0.0).floor() as u64,
        reset_unix: now + ((v.limit - v.remaining).max(0.0) / v.refill_per_sec).ceil() as i64,
    };
    let verdict = if v.allowed {
        Ok(())
    } else {
        let wait = ((1.0 - v.remaining) / v.refill_per_sec).ceil().max(1.0) as u64;
        Err(ApiError::RateLimited {
            retry_after_seconds: wait,
        })
    };
    let caller = Caller {
        organization_id: v.organization_id,
    };
    Ok((caller, budget, verdict))
}
