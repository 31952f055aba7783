//! The domain view of a Stripe event: its typed [`view`], money in real
//! minor units (and thresholds on it), Dashboard links, account names, and
//! the [`case`] an event belongs to (its correlation keys and state).

pub mod case;
pub mod enrichment;
pub mod facts;
pub mod links;
pub mod money;
pub mod view;

pub use money::Threshold;
pub use view::{EventView, ObjectKind};

/// The account name of the root endpoint, `POST /webhooks/stripe`; other
/// accounts are the NAME of `[stripe.accounts.NAME]`.
pub const DEFAULT_ACCOUNT: &str = "default";
