//! Unit tests of loading and checking settings.

use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::SecretString;

use crate::operations::default_data_dir;
use crate::*;

#[test]
fn every_file_in_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut seen = 0;
    for entry in walk(&dir) {
        if entry.extension().is_some_and(|e| e == "toml") {
            Settings::from_figment(Figment::new().merge(Toml::file_exact(&entry)))
                .unwrap_or_else(|e| panic!("{}: {e:?}", entry.display()));
            seen += 1;
        }
    }
    assert!(seen >= 2, "expected example files in config/, found {seen}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("config/ exists") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure returns figment::Error"
)]
fn env_overrides_file_and_unrelated_vars_are_ignored() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "w.toml",
            "[server]\nport = 9000\n[limits]\nrate_limit = 5\n",
        )?;
        jail.set_env("WARREN_SERVER__PORT", "9100");
        jail.set_env("WARREN_CONFIG", "w.toml");
        jail.set_env("WARREN_AGENT_TOKEN_KEY", "ab");
        let s = Settings::load(Some(Path::new("w.toml"))).expect("loads");
        assert_eq!(s.server.port, 9100);
        assert_eq!(s.limits.rate_limit, 5);
        assert_eq!(s.sandboxes.token_ttl_seconds, 86_400);
        Ok(())
    });
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure returns figment::Error"
)]
fn pool_sizes_and_capacity_come_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WARREN_POOL__TEMPLATES", "{code-interpreter=2,base=1}");
        jail.set_env("WARREN_CAPACITY__VCPU", "6");
        jail.set_env("WARREN_CAPACITY__ORG_SHARE_PERCENT", "50");
        jail.set_env("WARREN_RUNTIME__KIND", "docker");
        let s = Settings::load(None).expect("loads");
        assert_eq!(s.pool.templates.get("code-interpreter"), Some(&2));
        assert_eq!(s.pool.templates.get("base"), Some(&1));
        assert_eq!((s.capacity.vcpu, s.capacity.memory_mb), (Some(6), None));
        assert_eq!(s.capacity.org_share_percent, 50);
        assert_eq!(
            (s.capacity.disk_mb, s.capacity.disk_overcommit),
            (None, 128)
        );
        assert_eq!(s.runtime.kind, RuntimeKind::Docker);
        Ok(())
    });
}

#[test]
fn the_data_dir_is_var_lib_as_root_else_xdg_data_home_else_under_home() {
    let os = |s: &str| Some(std::ffi::OsString::from(s));
    let dir = |root, xdg, home| default_data_dir(root, xdg, home).map(|p| p.display().to_string());
    assert_eq!(
        dir(true, os("/x"), os("/h")).as_deref(),
        Some("/var/lib/warren")
    );
    assert_eq!(dir(false, os("/x"), os("/h")).as_deref(), Some("/x/warren"));
    assert_eq!(
        dir(false, os("relative"), os("/h")).as_deref(),
        Some("/h/.local/share/warren"),
        "a relative XDG_DATA_HOME is ignored, as the spec says"
    );
    assert_eq!(dir(false, None, None), None);
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure returns figment::Error"
)]
fn no_database_url_is_the_embedded_mode_with_its_defaults_under_file_and_env() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("WARREN_EMBEDDED__DATA_DIR", "/d");
        jail.set_env("WARREN_BOOTSTRAP__ORGANIZATION", "mine");
        let s = Settings::load(None).expect("loads");
        assert!(s.database.is_embedded());
        assert_eq!(s.runtime.kind, RuntimeKind::Docker);
        assert!(s.templates.ensure_builtin_images);
        assert_eq!(s.bootstrap.organization.as_deref(), Some("mine"));
        assert_eq!(s.docker.state_dir, Path::new("/d/runtime"));
        assert_eq!(s.templates.upload_dir, Path::new("/d/template-uploads"));

        jail.set_env("WARREN_DATABASE__URL", "postgres://db/warren");
        let s = Settings::load(None).expect("loads");
        assert!(!s.database.is_embedded());
        assert_eq!(s.runtime.kind, RuntimeKind::None);
        assert!(!s.templates.ensure_builtin_images);
        Ok(())
    });
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure returns figment::Error"
)]
fn the_bootstrap_key_must_be_a_well_formed_key_for_a_named_organization() {
    figment::Jail::expect_with(|jail| {
        let key = api_keys::generate().full;
        jail.set_env("WARREN_DATABASE__URL", "postgres://db/warren");
        jail.set_env("WARREN_BOOTSTRAP__API_KEY", &key);
        assert!(Settings::load(None).is_err(), "no organization");
        jail.set_env("WARREN_BOOTSTRAP__ORGANIZATION", "acme");
        assert!(Settings::load(None).is_ok());
        jail.set_env("WARREN_BOOTSTRAP__API_KEY", &key[..key.len() - 1]);
        assert!(Settings::load(None).is_err(), "malformed");
        Ok(())
    });
}

#[test]
fn debug_shows_no_database_password_nor_bootstrap_key() {
    let key = api_keys::generate().full;
    let mut s = Settings::default();
    s.database.url = SecretString::from("postgres://warren:pg-pass-1@db/warren");
    s.bootstrap.api_key = Some(SecretString::from(key.clone()));
    let shown = format!("{s:?}");
    assert!(shown.contains("max_connections"), "{shown}");
    assert!(!shown.contains("pg-pass-1"), "{shown}");
    assert!(!shown.contains(&key), "{shown}");
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure returns figment::Error"
)]
fn unknown_keys_and_bad_values_are_refused() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[server]\nprot = 1\n")?;
        assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
        jail.create_file("short.toml", "[sandboxes]\ntoken_ttl_seconds = 60\n")?;
        assert!(Settings::load(Some(Path::new("short.toml"))).is_err());
        Ok(())
    });
}
