//! Stripe at the edge: webhook signatures, the event envelope, the API
//! client, the reads that complete cards, sample events.
//!
//! Everything that arrives from Stripe is checked here before anything else
//! looks at it: [`signature`] verifies the raw bytes, [`envelope`] turns them
//! into a typed [`envelope::StripeEvent`] once.

pub mod api;
pub mod enrich;
pub mod envelope;
pub mod sample;
pub mod signature;
