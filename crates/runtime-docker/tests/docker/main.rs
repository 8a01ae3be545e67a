//! The Docker backend on the real engine with the real static agent. Needs a running engine, the
//! sandbox disk (`scripts/docker-engine.sh --sandbox-disk`) and the template images
//! (`scripts/build-templates.sh`); run as root (iptables, btrfs). The agent is taken from
//! `WARREN_AGENT_STATIC_BIN` or built once (a static debug build, cached by cargo).

mod agent_sdk;
mod agent_volume;
mod bench;
mod confinement;
mod desktop_vnc;
mod destructive;
mod escape;
mod escape_table;
mod exhaustion;
mod gvisor;
mod headroom;
mod helpers;
mod holders;
mod isolation;
mod lifecycle;
mod pool;
mod unavailable;
