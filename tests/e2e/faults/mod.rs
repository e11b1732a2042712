//! The product's money claims under injected faults (issue 13, "Faults"): a seeded
//! fault-injecting proxy of ours between the production adapters and the stand-ins
//! (localstripe, moto), and the monthly charge run through it.

mod killed;
mod monthly;
mod proxy;
mod proxy_tests;
mod purchases;
mod redelivery;
mod wire;
mod world;
