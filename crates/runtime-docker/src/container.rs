//! What a sandbox container looks like: the create body, built from the template image's facts and
//! the settings. Pure functions, so the hardening is visible in one place and unit-tested.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, ImageInspect, Mount, MountType,
    MountVolumeOptions, MountVolumeOptionsDriverConfig, ResourcesUlimits,
};
use runtime::{Isolation, Resources};

use crate::DockerSettings;
use crate::disk::SandboxDisk;
use crate::engine::{
    LABEL_INSTANCE, LABEL_MANAGED, LABEL_NETWORK, LABEL_POOLED, LABEL_SANDBOX_ID, LABEL_TEMPLATE,
};

/// Where the agent binary (setting `agent_binary`) appears inside every sandbox.
pub const AGENT_PATH: &str = "/.warren/agent";
/// Where the agent volume (setting `agent_volume`) is mounted instead; it holds [`AGENT_IN_VOLUME`].
const AGENT_VOLUME_DIR: &str = "/.warren/bin";
/// The agent binary's name in the agent volume.
const AGENT_IN_VOLUME: &str = "warren-agent";
/// Where the sandbox's secrets file (root-only, read-only) appears inside its container.
const SECRETS_PATH: &str = "/.warren/secrets";
/// The agent's scratch directory (code files of executions): a small tmpfs, so that a sandbox whose
/// disk is full still runs code (to clean up, for one).
const AGENT_TMP: &str = "/.warren/tmp";
/// Mount options of [`AGENT_TMP`].
const AGENT_TMP_OPTIONS: &str = "rw,nosuid,nodev,size=64m,mode=1777";
/// Warren's seccomp profile (docs/runtime-docker.md, "Seccomp"): Docker's default allowlist for a
/// container without `CAP_SYS_ADMIN`, less io_uring, with bpf, userfaultfd, the key syscalls and
/// perf_event_open refused (EPERM).
const SECCOMP_PROFILE: &str = include_str!("../seccomp/warren.json");
/// The port the agent listens on.
pub const AGENT_PORT: u16 = 7777;
/// Prefix of the agent's own variables; user variables with it are dropped (they could change the
/// user code runs as).
const AGENT_ENV_PREFIX: &str = "WARREN_AGENT_";
/// uid:gid of user code when the image names no unprivileged numeric user.
pub(crate) const DEFAULT_USER: (u32, u32) = (1000, 1000);
/// What the agent keeps of the capabilities: switching to the sandbox user, signalling and owning
/// its processes and files, and emptying user code's bounding set (`SETPCAP`). Everything else is
/// dropped.
const CAPABILITIES: [&str; 7] = [
    "SETUID",
    "SETGID",
    "KILL",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETPCAP",
];

/// Facts about the template image that shape its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// The image's own command (entrypoint then cmd), run and supervised by the agent.
    pub command: Vec<String>,
    /// uid:gid user code runs as: the image's numeric non-root `User`, else 1000:1000.
    pub user: (u32, u32),
}

impl ImageFacts {
    pub fn from_inspect(image: &ImageInspect) -> Self {
        let config = image.config.as_ref();
        let command = config
            .map(|c| {
                let entry = c.entrypoint.iter().flatten();
                entry.chain(c.cmd.iter().flatten()).cloned().collect()
            })
            .unwrap_or_default();
        let user = config
            .and_then(|c| c.user.as_deref())
            .and_then(parse_user)
            .unwrap_or(DEFAULT_USER);
        Self { command, user }
    }
}

/// A numeric `uid[:gid]` other than root; names would need the image's `/etc/passwd`.
fn parse_user(user: &str) -> Option<(u32, u32)> {
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    let ids = (u.parse().ok()?, g.parse().ok()?);
    (ids.0 != 0).then_some(ids)
}

/// How the sandbox's user processes are kept below its agent's limits (docs/runtime-docker.md,
/// "Headroom").
pub enum UserLimits {
    /// A cgroup parent Warren owns (`CgroupParent`) and the host paths of the `user` cgroups, by
    /// hierarchy, mounted at [`crate::cgroup::MOUNT_DIR`].
    Cgroups {
        parent: String,
        dirs: Vec<(&'static str, std::path::PathBuf)>,
    },
    /// The user's `RLIMIT_NPROC` (gVisor, whose kernel counts it per sandbox).
    Nproc(u64),
    /// None (no usable cgroup hierarchy).
    Shared,
}

/// Who the agent serves from its start.
pub enum Identity<'a> {
    /// A cold create: the owner's identity and environment.
    Owner {
        token_key_hex: &'a str,
        env_vars: &'a BTreeMap<String, String>,
        /// `WARREN_AGENT_VIEWER_BASE`: the public URL of the desktop viewer port.
        viewer_base: Option<&'a str>,
        /// `WARREN_AGENT_PREVIEW_EPOCH`.
        preview_epoch: i64,
    },
    /// A warm-pool container: only the configure secret.
    Pool { configure_secret: &'a str },
}

/// One sandbox to launch, as the runtime interface describes it.
pub struct Request<'a> {
    pub sandbox_id: &'a str,
    pub template: &'a str,
    pub image: &'a str,
    pub isolation: Isolation,
    pub resources: Resources,
    pub identity: Identity<'a>,
    /// The Docker network it joins.
    pub network: &'a str,
    /// The volumes it mounts.
    pub volumes: &'a [runtime::VolumeMount],
    /// The snapshot its disk starts as a copy of.
    pub snapshot_id: Option<&'a str>,
}

/// Everything one sandbox container is made from.
pub struct Plan<'a> {
    pub request: Request<'a>,
    pub facts: &'a ImageFacts,
    pub disk: Option<&'a SandboxDisk>,
    /// Host path of the sandbox's secrets file, written from [`secrets`].
    pub secrets: &'a Path,
    /// The network-namespace holder (on `request.network`) whose network namespace it joins: the
    /// sandbox container is on no network itself, so the embedded DNS knows no name of it. Its
    /// hostname is the holder's.
    pub holder: &'a str,
    /// The limits of its user processes.
    pub user_limits: &'a UserLimits,
    /// The bind mounts of its volumes ([`crate::volumes::Store::mounts`]).
    pub volumes: &'a [Mount],
}

/// The content of the sandbox's secrets file: what its agent must know and user code must not.
pub fn secrets(identity: &Identity<'_>) -> String {
    match identity {
        // The epoch is here, not in the container's environment: a revocation rewrites it.
        Identity::Owner {
            token_key_hex,
            preview_epoch,
            ..
        } => format!(
            "{AGENT_ENV_PREFIX}TOKEN_KEY={token_key_hex}\n{AGENT_ENV_PREFIX}PREVIEW_EPOCH={preview_epoch}\n"
        ),
        Identity::Pool { configure_secret } => {
            format!("{AGENT_ENV_PREFIX}CONFIGURE_SECRET={configure_secret}\n")
        }
    }
}

/// The create body of a sandbox container.
pub fn create_body(settings: &DockerSettings, plan: &Plan<'_>) -> ContainerCreateBody {
    let request = &plan.request;
    let (uid, gid) = plan.facts.user;
    let mut env = vec![
        format!("{AGENT_ENV_PREFIX}USER={uid}:{gid}"),
        format!("{AGENT_ENV_PREFIX}TMP={AGENT_TMP}"),
        format!("{AGENT_ENV_PREFIX}SECRETS_FILE={SECRETS_PATH}"),
    ];
    let pooled = match request.identity {
        Identity::Owner {
            env_vars,
            viewer_base,
            ..
        } => {
            env.push(format!(
                "{AGENT_ENV_PREFIX}SANDBOX_ID={}",
                request.sandbox_id
            ));
            if let Some(base) = viewer_base {
                env.push(format!("{AGENT_ENV_PREFIX}VIEWER_BASE={base}"));
            }
            env.extend(user_env(env_vars));
            false
        }
        Identity::Pool { .. } => true,
    };
    match plan.user_limits {
        UserLimits::Cgroups { .. } => env.push(format!(
            "{AGENT_ENV_PREFIX}USER_CGROUP={}",
            crate::cgroup::MOUNT_DIR
        )),
        UserLimits::Nproc(n) => env.push(format!("{AGENT_ENV_PREFIX}USER_NPROC={n}")),
        UserLimits::Shared => {}
    }
    let labels = HashMap::from([
        (LABEL_MANAGED.to_owned(), "1".to_owned()),
        (LABEL_INSTANCE.to_owned(), settings.instance.clone()),
        (LABEL_SANDBOX_ID.to_owned(), request.sandbox_id.to_owned()),
        (LABEL_TEMPLATE.to_owned(), request.template.to_owned()),
        (LABEL_POOLED.to_owned(), u8::from(pooled).to_string()),
        (LABEL_NETWORK.to_owned(), request.network.to_owned()),
    ]);
    let cmd = std::iter::once("--".to_owned())
        .chain(plan.facts.command.iter().cloned())
        .collect();
    ContainerCreateBody {
        image: Some(request.image.to_owned()),
        user: Some("0".into()),
        entrypoint: Some(vec![agent_entrypoint(settings)]),
        cmd: Some(cmd),
        env: Some(env),
        labels: Some(labels),
        stop_timeout: Some(5),
        host_config: Some(host_config(settings, plan)),
        ..Default::default()
    }
}

/// User variables as `K=V`, without the agent's own and without malformed names.
fn user_env(vars: &BTreeMap<String, String>) -> impl Iterator<Item = String> + '_ {
    vars.iter()
        .filter(|(k, _)| !k.is_empty() && !k.contains('=') && !k.starts_with(AGENT_ENV_PREFIX))
        .map(|(k, v)| format!("{k}={v}"))
}

/// The agent's path inside the sandbox: in the agent volume when there is one.
pub fn agent_entrypoint(settings: &DockerSettings) -> String {
    match settings.agent_volume {
        Some(_) => format!("{AGENT_VOLUME_DIR}/{AGENT_IN_VOLUME}"),
        None => AGENT_PATH.to_owned(),
    }
}

/// The binds and mounts that put the agent where [`agent_entrypoint`] runs it.
pub fn agent_mounts(settings: &DockerSettings) -> (Vec<String>, Vec<Mount>) {
    match &settings.agent_volume {
        Some(volume) => {
            let mount = Mount {
                target: Some(AGENT_VOLUME_DIR.into()),
                source: Some(volume.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(true),
                volume_options: Some(MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            };
            (Vec::new(), vec![mount])
        }
        None => {
            let bind = format!("{}:{AGENT_PATH}:ro", settings.agent_binary.display());
            (vec![bind], Vec::new())
        }
    }
}

fn host_config(settings: &DockerSettings, plan: &Plan<'_>) -> HostConfig {
    let resources = plan.request.resources;
    let memory = i64::from(resources.memory_mb) << 20;
    let oci_runtime = settings.oci_runtime_of(plan.request.isolation);
    let (mut binds, mut mounts) = agent_mounts(settings);
    binds.push(format!("{}:{SECRETS_PATH}:ro", plan.secrets.display()));
    mounts.extend(plan.disk.map(disk_mounts).unwrap_or_default());
    mounts.extend_from_slice(plan.volumes);
    let mut cgroup_parent = None;
    if let UserLimits::Cgroups { parent, dirs } = plan.user_limits {
        cgroup_parent = Some(parent.clone());
        mounts.extend(dirs.iter().map(|(hierarchy, dir)| Mount {
            target: Some(format!("{}/{hierarchy}", crate::cgroup::MOUNT_DIR)),
            source: Some(dir.display().to_string()),
            typ: Some(MountType::BIND),
            ..Default::default()
        }));
    }
    let ulimit = |name: &str, limit: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(limit),
        hard: Some(limit),
    };
    HostConfig {
        binds: Some(binds),
        mounts: Some(mounts),
        network_mode: Some(format!("container:{}", plan.holder)),
        runtime: Some(oci_runtime.to_owned()),
        privileged: Some(false),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(CAPABILITIES.iter().map(|c| (*c).to_owned()).collect()),
        security_opt: Some(security_options(oci_runtime.starts_with("runsc"))),
        nano_cpus: Some(i64::from(resources.vcpu.max(1)) * 1_000_000_000),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(settings.pids_limit),
        ulimits: Some(vec![ulimit("core", 0)]),
        shm_size: Some(i64::from(settings.shm_size_mb) << 20),
        tmpfs: Some(HashMap::from([(
            AGENT_TMP.to_owned(),
            AGENT_TMP_OPTIONS.to_owned(),
        )])),
        // With a disk every path user code can write is on it (or a bounded tmpfs); without one
        // the container layer takes what it writes, unbounded, as the connect warning says.
        readonly_rootfs: Some(plan.disk.is_some()),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_owned(), "1m".to_owned()),
                ("max-file".to_owned(), "2".to_owned()),
            ])),
        }),
        init: Some(false),
        cgroup_parent,
        ..Default::default()
    }
}

/// What every Warren container runs under: no privilege gain through exec, Warren's seccomp profile
/// (its gVisor variant under gVisor, `gvisor`).
pub fn security_options(gvisor: bool) -> Vec<String> {
    let profile = if gvisor {
        GVISOR_PROFILE
    } else {
        SECCOMP_PROFILE
    };
    vec!["no-new-privileges".into(), format!("seccomp={profile}")]
}

/// The profile for gVisor (`runsc --oci-seccomp`), a deny list: runsc 20221219 refuses some
/// syscalls an allow list names (`pselect6`, so glibc's `select()`, even under Docker's default
/// profile), and answers every refusal with EPERM whatever `errnoRet` says (so clone3 stays allowed:
/// gVisor answers it ENOSYS itself and glibc falls back to clone). It refuses what Warren's profile
/// refuses on purpose: io_uring, bpf, userfaultfd, the key syscalls, perf_event_open, namespaces
/// (`unshare`, `setns`, `clone` with a namespace flag), the mount API, modules, kexec, syslog.
const GVISOR_PROFILE: &str = include_str!("../seccomp/gvisor.json");

/// Workspace and home as volumes bound to the subvolume (Docker copies the image's content of those
/// paths into them on first mount, so `.bashrc` and template files stay), the scratch paths as binds.
fn disk_mounts(disk: &SandboxDisk) -> Vec<Mount> {
    let volume = |target: &str, device: std::path::PathBuf| Mount {
        target: Some(target.into()),
        typ: Some(MountType::VOLUME),
        volume_options: Some(MountVolumeOptions {
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some("local".into()),
                options: Some(HashMap::from([
                    ("type".to_owned(), "none".to_owned()),
                    ("o".to_owned(), "bind".to_owned()),
                    ("device".to_owned(), device.display().to_string()),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let scratch = disk.scratch().display().to_string();
    let mut mounts = vec![
        volume(SandboxDisk::WORKSPACE, disk.workspace()),
        volume(SandboxDisk::HOME, disk.home()),
    ];
    mounts.extend(SandboxDisk::SCRATCH.iter().map(|target| Mount {
        target: Some((*target).into()),
        source: Some(scratch.clone()),
        typ: Some(MountType::BIND),
        ..Default::default()
    }));
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ImageFacts {
        ImageFacts {
            command: vec!["sleep".into(), "infinity".into()],
            user: (1000, 1000),
        }
    }

    fn plan<'a>(facts: &'a ImageFacts, identity: Identity<'a>) -> Plan<'a> {
        let request = Request {
            sandbox_id: "sbx1",
            template: "base",
            image: "img",
            isolation: Isolation::Container,
            resources: Resources {
                vcpu: 2,
                memory_mb: 512,
                disk_mb: 100,
            },
            identity,
            network: "net",
            volumes: &[],
            snapshot_id: None,
        };
        Plan {
            request,
            facts,
            disk: None,
            secrets: Path::new("/state/secrets/sbx1"),
            holder: "warren-net-0123",
            user_limits: &UserLimits::Shared,
            volumes: &[],
        }
    }

    /// The scheduler refuses volume mount paths by `runtime`'s lists: they must name what this
    /// backend mounts itself.
    #[test]
    fn volume_paths_refused_cover_every_mount_of_the_backend() {
        let own = [
            AGENT_PATH,
            SECRETS_PATH,
            AGENT_TMP,
            crate::cgroup::MOUNT_DIR,
        ];
        for path in own {
            assert!(runtime::mount_path_refusal(path).is_some(), "{path}");
        }
        let disk = [SandboxDisk::WORKSPACE, SandboxDisk::HOME];
        for path in disk.iter().chain(&SandboxDisk::SCRATCH) {
            assert!(runtime::SANDBOX_MOUNTS.contains(path), "{path}");
        }
    }

    #[test]
    fn image_user_and_command_are_kept() {
        let mut image = ImageInspect::default();
        assert_eq!(ImageFacts::from_inspect(&image).user, DEFAULT_USER);
        image.config = Some(bollard::models::ImageConfig {
            user: Some("1234:99".into()),
            entrypoint: Some(vec!["/init".into()]),
            cmd: Some(vec!["run".into()]),
            ..Default::default()
        });
        let f = ImageFacts::from_inspect(&image);
        assert_eq!(
            (f.user, f.command),
            ((1234, 99), vec!["/init".into(), "run".into()])
        );
        for root_or_name in ["0", "root", "0:0", "user"] {
            assert_eq!(parse_user(root_or_name), None, "{root_or_name}");
        }
    }

    #[test]
    fn containers_are_hardened_and_labelled() {
        let f = facts();
        let vars = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("WARREN_AGENT_USER".to_owned(), "0".to_owned()),
        ]);
        let owner = Identity::Owner {
            token_key_hex: "ab",
            env_vars: &vars,
            viewer_base: Some("http://6080-sbx1.sandbox.localhost:8080"),
            preview_epoch: 3,
        };
        assert_eq!(
            secrets(&owner),
            "WARREN_AGENT_TOKEN_KEY=ab\nWARREN_AGENT_PREVIEW_EPOCH=3\n"
        );
        let body = create_body(&DockerSettings::default(), &plan(&f, owner));
        let hc = body.host_config.as_ref().unwrap();
        assert_eq!(hc.privileged, Some(false));
        assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_owned()][..]));
        assert_eq!(hc.nano_cpus, Some(2_000_000_000));
        assert_eq!(hc.memory, hc.memory_swap);
        assert_eq!(body.user.as_deref(), Some("0"));
        assert_eq!(body.cmd.as_deref().unwrap(), ["--", "sleep", "infinity"]);
        let env = body.env.unwrap();
        assert!(env.contains(&"A=1".to_owned()));
        assert!(env.contains(&"WARREN_AGENT_USER=1000:1000".to_owned()));
        assert!(!env.contains(&"WARREN_AGENT_USER=0".to_owned()));
        assert!(!env.iter().any(|e| e.contains("TOKEN_KEY")));
        assert!(env.contains(
            &"WARREN_AGENT_VIEWER_BASE=http://6080-sbx1.sandbox.localhost:8080".to_owned()
        ));
        assert!(!env.iter().any(|e| e.contains("PREVIEW_EPOCH")));
        assert_eq!(body.labels.unwrap()[LABEL_POOLED], "0");
        assert!(
            hc.binds
                .as_ref()
                .unwrap()
                .contains(&"/state/secrets/sbx1:/.warren/secrets:ro".to_owned())
        );
    }

    #[test]
    fn the_agent_comes_from_its_volume_when_one_is_set() {
        let f = facts();
        let pool = Identity::Pool {
            configure_secret: "s",
        };
        let settings = DockerSettings {
            agent_volume: Some("agent-vol".into()),
            ..DockerSettings::default()
        };
        let body = create_body(&settings, &plan(&f, pool));
        assert_eq!(
            body.entrypoint.as_deref().unwrap(),
            ["/.warren/bin/warren-agent"]
        );
        let hc = body.host_config.unwrap();
        assert!(!hc.binds.unwrap().iter().any(|b| b.contains(AGENT_PATH)));
        let mount = &hc.mounts.unwrap()[0];
        assert_eq!(
            (mount.source.as_deref(), mount.target.as_deref()),
            (Some("agent-vol"), Some(AGENT_VOLUME_DIR))
        );
        assert_eq!(mount.read_only, Some(true));
    }

    #[test]
    fn a_sandbox_joins_its_holder_network_namespace() {
        let f = facts();
        let pool = Identity::Pool {
            configure_secret: "s",
        };
        let body = create_body(&DockerSettings::default(), &plan(&f, pool));
        assert_eq!(body.hostname, None);
        let mode = body.host_config.unwrap().network_mode.unwrap();
        assert_eq!(mode, "container:warren-net-0123");
    }

    #[test]
    fn the_isolation_chooses_the_oci_runtime() {
        let f = facts();
        let runtime_of = |isolation| {
            let mut p = plan(
                &f,
                Identity::Pool {
                    configure_secret: "s",
                },
            );
            p.request.isolation = isolation;
            let body = create_body(&DockerSettings::default(), &p);
            body.host_config.unwrap().runtime.unwrap()
        };
        assert_eq!(runtime_of(Isolation::Container), "runc");
        assert_eq!(runtime_of(Isolation::Gvisor), "runsc-hostnet");
    }

    #[test]
    fn pooled_containers_carry_only_the_configure_secret() {
        let f = facts();
        let pool = Identity::Pool {
            configure_secret: "s",
        };
        assert_eq!(secrets(&pool), "WARREN_AGENT_CONFIGURE_SECRET=s\n");
        let body = create_body(&DockerSettings::default(), &plan(&f, pool));
        let env = body.env.unwrap();
        assert!(
            !env.iter()
                .any(|e| e.contains("SECRET=") || e.contains("TOKEN_KEY"))
        );
        assert!(
            !env.iter()
                .any(|e| e.contains("VIEWER_BASE") || e.contains("PREVIEW_EPOCH")),
            "the owner's viewer link comes with the configure step"
        );
        assert_eq!(body.labels.unwrap()[LABEL_POOLED], "1");
    }

    #[test]
    fn user_processes_get_their_cgroups_or_an_nproc_limit() {
        let f = facts();
        let pool = || Identity::Pool {
            configure_secret: "s",
        };
        let cgroups = UserLimits::Cgroups {
            parent: "/warren/default/sbx1".into(),
            dirs: vec![(
                "pids",
                "/sys/fs/cgroup/pids/warren/default/sbx1/user".into(),
            )],
        };
        let mut p = plan(&f, pool());
        p.user_limits = &cgroups;
        let body = create_body(&DockerSettings::default(), &p);
        assert!(
            body.env
                .unwrap()
                .contains(&"WARREN_AGENT_USER_CGROUP=/.warren/cgroup".to_owned())
        );
        let hc = body.host_config.unwrap();
        assert_eq!(hc.cgroup_parent.as_deref(), Some("/warren/default/sbx1"));
        let mount = hc.mounts.unwrap().pop().unwrap();
        assert_eq!(
            (mount.source.as_deref(), mount.target.as_deref()),
            (
                Some("/sys/fs/cgroup/pids/warren/default/sbx1/user"),
                Some("/.warren/cgroup/pids")
            )
        );
        let nproc = UserLimits::Nproc(900);
        let mut p = plan(&f, pool());
        p.user_limits = &nproc;
        let body = create_body(&DockerSettings::default(), &p);
        assert!(
            body.env
                .unwrap()
                .contains(&"WARREN_AGENT_USER_NPROC=900".to_owned())
        );
        assert_eq!(body.host_config.unwrap().cgroup_parent, None);
    }

    #[test]
    fn the_seccomp_profile_refuses_io_uring_and_the_rest() {
        let profile: serde_json::Value = serde_json::from_str(SECCOMP_PROFILE).unwrap();
        assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
        let rules = profile["syscalls"].as_array().unwrap();
        let allowed: Vec<&str> = rules
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap())
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(allowed.contains(&"read") && allowed.contains(&"ptrace"));
        for refused in [
            "io_uring_setup",
            "bpf",
            "userfaultfd",
            "keyctl",
            "perf_event_open",
        ] {
            assert!(!allowed.contains(&refused), "{refused}");
        }
        for refused in ["unshare", "setns", "mount", "clone3"] {
            assert!(!allowed.contains(&refused), "{refused}");
        }
        let gvisor: serde_json::Value = serde_json::from_str(GVISOR_PROFILE).unwrap();
        assert_eq!(gvisor["defaultAction"], "SCMP_ACT_ALLOW");
        let denied: Vec<&str> = gvisor["syscalls"][0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        for refused in [
            "io_uring_setup",
            "bpf",
            "userfaultfd",
            "keyctl",
            "perf_event_open",
            "unshare",
            "setns",
            "mount",
        ] {
            assert!(denied.contains(&refused), "gVisor: {refused}");
        }
        let f = facts();
        let mut p = plan(
            &f,
            Identity::Pool {
                configure_secret: "s",
            },
        );
        let hc = create_body(&DockerSettings::default(), &p)
            .host_config
            .unwrap();
        let options = hc.security_opt.unwrap();
        assert_eq!(options[0], "no-new-privileges");
        assert_eq!(options[1], format!("seccomp={SECCOMP_PROFILE}"));
        assert_eq!(
            hc.readonly_rootfs,
            Some(false),
            "no disk: the layer takes writes"
        );
        p.request.isolation = Isolation::Gvisor;
        let hc = create_body(&DockerSettings::default(), &p)
            .host_config
            .unwrap();
        assert_eq!(
            hc.security_opt.unwrap()[1],
            format!("seccomp={GVISOR_PROFILE}")
        );
    }
}
