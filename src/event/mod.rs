//! The domain view of a Stripe event: its typed [`view`], money in real
//! minor units, and Dashboard links.

pub mod links;
pub mod money;
pub mod view;

pub use view::{EventView, ObjectKind};
