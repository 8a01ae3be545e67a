//! The `volumes` of a sandbox create: checked (paths, duplicates, how many), then resolved to the
//! organization's volumes inside the create's transaction, each locked against a delete until the
//! sandbox's row and its mounts are committed.

use std::collections::HashSet;

use api_error::ApiError;
use api_types::volumes::VolumeMountRequest;
use runtime::VolumeMount;
use sqlx::PgConnection;

/// `Ok` when the mounts can be made: at most `max` of them, each at an acceptable path
/// ([`runtime::mount_path_refusal`]), no path twice, no path inside another's.
pub fn check(requested: &[VolumeMountRequest], max: u32) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::InvalidRequest(m));
    if requested.len() > max as usize {
        return bad(format!(
            "at most {max} volumes per sandbox (volumes.max_mounts_per_sandbox)"
        ));
    }
    let mut paths = HashSet::new();
    for m in requested {
        if let Some(why) = runtime::mount_path_refusal(&m.mount_path) {
            return bad(format!(
                "volume mount_path {:?} {why}",
                truncate(&m.mount_path)
            ));
        }
        if !paths.insert(m.mount_path.as_str()) {
            return bad(format!(
                "volume mount_path {:?} is given twice",
                m.mount_path
            ));
        }
    }
    for m in requested {
        let nested = paths.iter().any(|p| {
            m.mount_path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
        });
        if nested {
            return bad(format!(
                "volume mount_path {:?} is inside another volume's mount",
                m.mount_path
            ));
        }
    }
    Ok(())
}

/// Resolves each requested volume to a `ready` volume of `org_id`, locked `FOR SHARE` until the
/// transaction ends. Unknown, foreign and unfinished volumes are all 404.
pub async fn reserve(
    conn: &mut PgConnection,
    org_id: i64,
    requested: &[VolumeMountRequest],
) -> Result<Vec<VolumeMount>, ApiError> {
    let mut mounts = Vec::with_capacity(requested.len());
    for m in requested {
        if !crate::names::could_be_volume(&m.name) {
            return Err(ApiError::VolumeNotFound);
        }
        let volume = db::volumes::find_for_mount(&mut *conn, org_id, &m.name)
            .await?
            .ok_or(ApiError::VolumeNotFound)?;
        mounts.push(VolumeMount {
            volume_id: volume.id,
            mount_path: m.mount_path.clone(),
            read_only: m.read_only,
        });
    }
    Ok(mounts)
}

/// Records the sandbox's mounts (in the transaction that inserted its row).
pub async fn record(
    conn: &mut PgConnection,
    sandbox_id: &str,
    mounts: &[VolumeMount],
) -> Result<(), ApiError> {
    for m in mounts {
        db::volumes::insert_mount(
            &mut *conn,
            sandbox_id,
            &m.volume_id,
            &m.mount_path,
            m.read_only,
        )
        .await?;
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str) -> VolumeMountRequest {
        VolumeMountRequest {
            name: "data".into(),
            mount_path: path.into(),
            read_only: false,
        }
    }

    #[test]
    fn accepts_distinct_good_paths() {
        let ok = [mount("/data"), mount("/workspace/cache"), mount("/data2")];
        assert!(check(&ok, 8).is_ok());
        assert!(check(&[], 0).is_ok());
    }

    #[test]
    fn refuses_bad_duplicate_nested_and_too_many() {
        for bad in [
            vec![mount("data")],
            vec![mount("/a/../proc")],
            vec![mount("/proc/x")],
            vec![mount("/sys")],
            vec![mount("/dev/x")],
            vec![mount("/.warren/agent")],
            vec![mount("/data"), mount("/data")],
            vec![mount("/data"), mount("/data/inner")],
        ] {
            let refused = check(&bad, 8);
            assert!(
                matches!(refused, Err(ApiError::InvalidRequest(_))),
                "{bad:?}: {refused:?}"
            );
        }
        let many: Vec<_> = (0..3).map(|i| mount(&format!("/v{i}"))).collect();
        assert!(check(&many, 2).is_err());
    }
}
