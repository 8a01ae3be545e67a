//! Wire types of Warren's two APIs, field for field as `shared/api/CONTRACT.md` describes them.
//!
//! * [`control`]: the control-plane (lifecycle) API, `/v1/sandboxes`, `/v1/templates`.
//! * [`agent`]: the data-plane API served by `warren-agent` on port 7777, WebSocket frames included.
//! * [`error`]: the two error envelopes (§1.6): an object `error` on the control plane, a string on the agent.
//! * [`volumes`]: Warren's volumes, `/v1/volumes`.
//! * [`snapshots`]: Warren's filesystem snapshots and forks, `/v1/snapshots`.
//! * [`timestamp`]: second-precision `Z` timestamps, the only form the SDKs parse everywhere.
//!
//! Serde only: no web framework, database or runtime types belong here.

pub mod agent;
pub mod control;
pub mod error;
pub mod snapshots;
pub mod timestamp;
pub mod volumes;
