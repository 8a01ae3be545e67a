//! What the reconciler removes of the things the runtime keeps beside sandboxes (volumes,
//! snapshots): the ones whose rows a crashed create left half-made, and the ones with no row at
//! all (a delete that died between the database and the runtime). The runtime is listed before
//! the rows are read, and a row is always written before the runtime makes its thing, so a listed
//! id without a row is never a create in flight.

use std::collections::HashSet;

use api_error::chain;
use runtime::RuntimeError;

/// The ids to remove: every `abandoned` row's, and every `listed` one that is not `owned`.
pub fn unowned(abandoned: Vec<String>, listed: Vec<String>, owned: Vec<String>) -> Vec<String> {
    let owned: HashSet<String> = owned.into_iter().collect();
    let orphans = listed.into_iter().filter(|id| !owned.contains(id));
    abandoned.into_iter().chain(orphans).collect()
}

/// Removes each of `ids` (a `kind` of thing) with `remove`, logging failures (the next pass
/// retries); the ids removed.
pub async fn remove<F, Fut>(kind: &str, ids: Vec<String>, remove: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), RuntimeError>>,
{
    let mut removed = Vec::new();
    for id in ids {
        tracing::warn!(id = %id, kind, "removing what nobody owns");
        match remove(id.clone()).await {
            Ok(()) => removed.push(id),
            Err(e) => tracing::warn!(id = %id, kind, error.chain = %chain(&e), "not removed"),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_rows_and_listed_ids_without_a_row_go() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gone = unowned(ids(&["half"]), ids(&["a", "b", "c"]), ids(&["b"]));
        assert_eq!(gone, ids(&["half", "a", "c"]));
    }
}
