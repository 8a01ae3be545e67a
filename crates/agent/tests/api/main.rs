//! Integration tests: the real `warren-agent` binary as a process, driven over HTTP and WebSocket.
//! Run as root (user code then runs as uid 1000; the disk-full test mounts a small tmpfs).

mod auth;
mod bad_input;
mod commands;
mod execute;
mod files;
mod files_as_user;
mod files_escape;
mod helpers;
mod lifecycle;
mod limits;
mod misc;
mod streams;
mod user_processes;
