//! Database rows to wire objects.

use api_types::control::{Sandbox, SandboxResources, Template, TemplateResources};

use db::sandboxes::SandboxRow;
use db::templates::TemplateRow;
use settings::RouterSettings;

/// `{scheme}://{sandbox_id}.{domain}[:{port}]`, the port left out when it is the scheme's default.
pub fn public_host(router: &RouterSettings, listen_port: u16, sandbox_id: &str) -> String {
    let port = router.public_port.unwrap_or(listen_port);
    let default_port = match router.scheme.as_str() {
        "https" => 443,
        _ => 80,
    };
    if port == default_port {
        format!("{}://{sandbox_id}.{}", router.scheme, router.domain)
    } else {
        format!("{}://{sandbox_id}.{}:{port}", router.scheme, router.domain)
    }
}

pub fn sandbox(row: &SandboxRow, router: &RouterSettings, listen_port: u16) -> Sandbox {
    let host = public_host(router, listen_port, &row.id);
    Sandbox {
        object: "sandbox".into(),
        id: row.id.clone(),
        name: row.name.clone(),
        status: row.state().wire().into(),
        public_host: host.clone(),
        direct_url: host,
        template_id: row.template_id.map(|id| id.to_string()),
        template_name: row.template_name.clone(),
        organization_id: row.organization_id,
        region: row.region.clone(),
        resources: SandboxResources {
            vcpu: row.vcpu,
            memory_mb: row.memory_mb,
            disk_mb: row.disk_mb,
        },
        internet_access: row.internet_access,
        live_mode: false,
        timeout_seconds: row.timeout_seconds,
        auto_pause: row.auto_pause_seconds,
        created_at: row.created_at,
        started_at: row.started_at,
        expires_at: row.expires_at,
    }
}

pub fn template(row: &TemplateRow) -> Template {
    Template {
        object: "template".into(),
        id: row.id.to_string(),
        name: row.name.clone(),
        display_name: row.display_name.clone(),
        description: row.description.clone(),
        category: row.category.clone(),
        language: row.language.clone(),
        status: row.status.clone(),
        default_resources: TemplateResources {
            vcpu: row.vcpu,
            memory_mb: row.memory_mb,
            disk_gb: row.disk_gb,
        },
        isolation: row.isolation.clone(),
        features: row.features.clone(),
        tags: row.tags.clone(),
        is_active: row.status == "active",
        is_public: row.is_public,
        organization_id: row.organization_id.map(|id| id.to_string()),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_host_leaves_out_default_ports() {
        let mut r = RouterSettings::default();
        assert_eq!(
            public_host(&r, 8080, "abc"),
            "http://abc.sandbox.localhost:8080"
        );
        assert_eq!(public_host(&r, 80, "abc"), "http://abc.sandbox.localhost");
        r.scheme = "https".into();
        r.domain = "sb.example.com".into();
        r.public_port = Some(443);
        assert_eq!(public_host(&r, 8080, "abc"), "https://abc.sb.example.com");
    }
}
