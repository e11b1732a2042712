//! End-to-end tests: real servers, real HTTP over loopback.

mod cards;
mod helpers;
mod local_server;
mod production;
mod webhooks;
