//! Agent (data-plane) API types, CONTRACT.md §3, WebSocket frames included.
