//! End-to-end tests: real servers, real HTTP over loopback.

mod helpers;
mod local_server;
