//! Control-plane (lifecycle) API types, CONTRACT.md §2.
