//! The domain view of a Stripe event: money in real minor units and
//! Dashboard links. Typed views of each event kind build on these.

pub mod links;
pub mod money;
