//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests by
//! route and status, request latency, transitions fired, SLA breaches, and
//! the worker's tick duration and lag.
//!
//! Routes are labelled by their pattern (`/instances/{id}`), never the
//! concrete path (`unmatched` for a path no route serves), and methods by
//! name only when HTTP defines them for this API's use (`other` for any
//! other token a client sends), so no request can add series.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::AppState;

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
pub struct ViaLabels {
    /// `api` (a person's request) or `timer` (the worker).
    pub via: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Every metric the server keeps, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub transitions: Family<ViaLabels, Counter>,
    pub decisions: Counter,
    pub breaches: Counter,
    pub ticks: Counter,
    pub tick_errors: Counter,
    pub tick_duration: Histogram,
    /// Seconds between the due time of the oldest item the last tick
    /// handled and the time it ran (0 when it handled nothing).
    pub worker_lag: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pdca");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method and route pattern",
            Unit::Seconds,
            latency.clone(),
        );
        let transitions = Family::<ViaLabels, Counter>::default();
        registry.register(
            "transitions",
            "Transitions fired, through the API or by timers",
            transitions.clone(),
        );
        let decisions = Counter::default();
        registry.register(
            "approval_decisions",
            "Approval decisions recorded through the API",
            decisions.clone(),
        );
        let breaches = Counter::default();
        registry.register(
            "sla_breaches",
            "SLA clocks the worker found past their target",
            breaches.clone(),
        );
        let ticks = Counter::default();
        registry.register("worker_ticks", "Worker ticks run", ticks.clone());
        let tick_errors = Counter::default();
        registry.register(
            "worker_tick_errors",
            "Worker ticks that failed (logged)",
            tick_errors.clone(),
        );
        let tick_duration = latency_histogram();
        registry.register_with_unit(
            "worker_tick_duration",
            "Time one worker tick took",
            Unit::Seconds,
            tick_duration.clone(),
        );
        let worker_lag = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "worker_lag",
            "Delay between the due time of the oldest item the last tick handled and the tick",
            Unit::Seconds,
            worker_lag.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            transitions,
            decisions,
            breaches,
            ticks,
            tick_errors,
            tick_duration,
            worker_lag,
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    pub fn fired(&self, via: &str, n: u64) {
        if n > 0 {
            self.transitions
                .get_or_create(&ViaLabels { via: via.into() })
                .inc_by(n);
        }
    }
}

/// The method label: one of the methods below, else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every request by its route pattern, and
/// logs it at debug level.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let metrics = state.metrics();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(
        %method,
        %route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}
