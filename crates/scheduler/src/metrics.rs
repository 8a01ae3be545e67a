//! The scheduler's Prometheus metrics: reconciler passes and what they repaired, leadership
//! changes, and warm-pool claims by outcome. The control plane registers them beside its own ([`SchedulerMetrics::register`]) and
//! serves them at `GET /metrics`; labels name kinds only, never a sandbox or organization.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

impl KindLabels {
    pub fn of(name: &str) -> Self {
        Self {
            kind: name.to_owned(),
        }
    }
}

/// Counters of one process's scheduler. Cheap to clone (the families are shared).
#[derive(Clone, Default)]
pub struct SchedulerMetrics {
    reconcile_passes: Family<KindLabels, Counter>,
    reconcile_repairs: Family<KindLabels, Counter>,
    leadership: Family<KindLabels, Counter>,
    pool_claims: Family<KindLabels, Counter>,
}

impl SchedulerMetrics {
    /// Adds these counters to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "reconcile_passes",
            "Reconciler passes on this replica, by outcome (ok, failed)",
            self.reconcile_passes.clone(),
        );
        registry.register(
            "reconcile_repairs",
            "What reconciler passes changed, by kind (destroyed, failed, stopped, finished, unpooled, swept, volumes, snapshots)",
            self.reconcile_repairs.clone(),
        );
        registry.register(
            "leader_changes",
            "Leadership events of this replica (acquired, lock_lost, task_ended)",
            self.leadership.clone(),
        );
        registry.register(
            "pool_claims",
            "Creates of a pooled template, by outcome (hit: served from the warm pool; miss: none \
             was ready; failed: the claim failed and the create went cold)",
            self.pool_claims.clone(),
        );
    }

    /// One reconciler pass: its outcome and, when it ran, how many of each kind it repaired.
    pub fn reconciled(&self, repairs: Option<&[(&str, usize)]>) {
        let outcome = if repairs.is_some() { "ok" } else { "failed" };
        self.reconcile_passes
            .get_or_create(&KindLabels::of(outcome))
            .inc();
        for (name, n) in repairs.unwrap_or_default() {
            self.reconcile_repairs
                .get_or_create(&KindLabels::of(name))
                .inc_by(*n as u64);
        }
    }

    /// A create of a pooled template: `hit`, `miss` or `failed`.
    pub fn pool_claim(&self, outcome: &str) {
        self.pool_claims
            .get_or_create(&KindLabels::of(outcome))
            .inc();
    }

    /// A leadership event of this replica.
    pub fn leadership(&self, event: &str) {
        self.leadership.get_or_create(&KindLabels::of(event)).inc();
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn passes_repairs_and_leadership_encode_by_kind() {
        let m = SchedulerMetrics::default();
        let mut registry = Registry::with_prefix("warren");
        m.register(&mut registry);
        m.reconciled(Some(&[("destroyed", 2), ("finished", 0)]));
        m.reconciled(None);
        m.leadership("acquired");
        m.pool_claim("hit");
        m.pool_claim("hit");
        m.pool_claim("miss");
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        for line in [
            "warren_reconcile_passes_total{kind=\"ok\"} 1",
            "warren_reconcile_passes_total{kind=\"failed\"} 1",
            "warren_reconcile_repairs_total{kind=\"destroyed\"} 2",
            "warren_reconcile_repairs_total{kind=\"finished\"} 0",
            "warren_leader_changes_total{kind=\"acquired\"} 1",
            "warren_pool_claims_total{kind=\"hit\"} 2",
            "warren_pool_claims_total{kind=\"miss\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
    }
}
