//! The control plane's Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format
//! (`prometheus-client`, the maintained client of the Prometheus project's Rust ecosystem: typed
//! label sets, no global registry). Aggregates only: no sandbox id, key or organization appears in a
//! label, so the route is open like `/health` (docs/operations.md, "Metrics").
//!
//! Counted as they happen: API requests by method, route (the matched pattern) and status, with a
//! latency histogram; rate-limit rejections; reconciler passes and what they repaired; leadership
//! changes. Read from Postgres at each scrape: sandboxes by state, warm-pool sandboxes by state, template
//! builds by status. The scheduler's counters (reconciler, leadership, warm-pool claims) are
//! registered beside these.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use api_error::ApiError;
use scheduler::metrics::SchedulerMetrics;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// Every metric of one process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    rate_limited: Counter,
    sandboxes: Family<StateLabels, Gauge>,
    pooled: Family<StateLabels, Gauge>,
    builds: Family<StateLabels, Gauge>,
}

impl Metrics {
    /// This process's metrics, with the scheduler's counters registered beside the API's.
    pub fn new(scheduler: &SchedulerMetrics) -> Self {
        let mut registry = Registry::with_prefix("warren");
        scheduler.register(&mut registry);
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "API requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an API request (until the response head), by method and route",
            latency.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limit_rejections",
            "Requests refused with 429 by an organization's rate limit",
            rate_limited.clone(),
        );
        let sandboxes = Family::<StateLabels, Gauge>::default();
        registry.register(
            "sandboxes",
            "Sandboxes by stored state (all replicas; deleted ones not counted)",
            sandboxes.clone(),
        );
        let pooled = Family::<StateLabels, Gauge>::default();
        registry.register(
            "pool_sandboxes",
            "Warm-pool sandboxes by state (all replicas)",
            pooled.clone(),
        );
        let builds = Family::<StateLabels, Gauge>::default();
        registry.register(
            "template_builds",
            "Custom template builds by status, the last build of each template (all replicas)",
            builds.clone(),
        );
        Self {
            builds,
            registry,
            requests,
            latency,
            rate_limited,
            sandboxes,
            pooled,
        }
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The text exposition, with the database gauges read now.
    async fn render(&self, pool: &sqlx::PgPool) -> Result<String, ApiError> {
        let counts = db::metrics::states(pool).await?;
        self.sandboxes.clear();
        self.pooled.clear();
        for c in counts {
            let family = if c.pooled {
                &self.pooled
            } else {
                &self.sandboxes
            };
            family
                .get_or_create(&StateLabels { state: c.state })
                .set(c.count);
        }
        self.builds.clear();
        for (status, count) in db::metrics::builds(pool).await? {
            self.builds
                .get_or_create(&StateLabels { state: status })
                .set(count);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(ApiError::internal)?;
        Ok(out)
    }
}

/// Middleware: counts and times every API request by its matched route (`unmatched` for none).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics; aggregates only, no authentication",
    security(()),
    responses((status = 200, description = "OpenMetrics text", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"))
)]
pub async fn serve(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = state.metrics.render(&state.pool).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_encode_with_their_labels_and_no_more() {
        let scheduler = SchedulerMetrics::default();
        let m = Metrics::new(&scheduler);
        m.rate_limited();
        scheduler.reconciled(None);
        let mut out = String::new();
        encode(&mut out, &m.registry).unwrap();
        for line in [
            "warren_rate_limit_rejections_total 1",
            "warren_reconcile_passes_total{kind=\"failed\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
        assert!(out.ends_with("# EOF\n"));
    }
}
