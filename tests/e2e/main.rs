//! End-to-end tests: real servers, real HTTP over loopback.

mod cards;
mod credits;
mod deletion;
mod edges;
mod faults;
mod helpers;
mod invoices;
mod local_server;
mod production;
mod recovery;
mod security;
mod webhooks;
