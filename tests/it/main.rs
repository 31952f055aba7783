//! The integration test binary: every test talks to a real app over HTTP on 127.0.0.1.

#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod cards;
mod cases;
mod cli;
mod connections;
mod delivery;
mod durability;
mod ingest_http;
mod interactions;
mod noise;
mod parsers_prop;
mod payments;
mod peers;
mod pipeline;
mod reload;
mod schedule;
mod signature_vectors;
mod store_suite;
mod stripe_reads;
