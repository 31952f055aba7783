//! The domain view of a Stripe event: its typed [`view`], money in real
//! minor units (and thresholds on it), Dashboard links, account names, and
//! the [`case`] an event belongs to (its correlation keys and state).

pub mod case;
pub mod enrichment;
pub mod facts;
pub mod links;
pub mod money;
pub mod request;
pub mod view;

pub use money::Threshold;
pub use view::{EventView, ObjectKind};

/// The event type of a payment request's link, as the bot stores it when it
/// creates a Checkout Session from chat (Stripe sends no event for that):
/// the card "Payment requested" opens the request's case.
pub const PAYMENT_REQUESTED: &str = "stripe_chatops.payment_requested";

/// The account name of the root endpoint, `POST /webhooks/stripe`; other
/// accounts are the NAME of `[stripe.accounts.NAME]`.
pub const DEFAULT_ACCOUNT: &str = "default";
