//! Stripe Dashboard links, right for test versus live mode and for Connect.
//!
//! Live: `https://dashboard.stripe.com/{path}`; test: `…/test/{path}`; a
//! connected account's id goes right after the host:
//! `https://dashboard.stripe.com/{acct_id}/test/{path}` (see `../shared/CARDS.md`).

/// The Dashboard host.
pub const DASHBOARD: &str = "https://dashboard.stripe.com";

/// The Dashboard section of an object, by its id prefix.
fn section(object_id: &str) -> Option<&'static str> {
    let prefix = object_id.split('_').next()?;
    Some(match prefix {
        "in" => "invoices",
        "pi" | "ch" | "py" => "payments",
        "cus" => "customers",
        "sub" => "subscriptions",
        "dp" | "du" => "disputes",
        "po" => "payouts",
        "evt" => "events",
        "re" => "refunds",
        "issfr" => "radar/early_fraud_warnings",
        "cs" => "checkout/sessions",
        _ => return None,
    })
}

/// The Dashboard page of an object, or `None` for an id we cannot place.
pub fn dashboard_url(
    object_id: &str,
    livemode: bool,
    connect_account: Option<&str>,
) -> Option<String> {
    if object_id.is_empty()
        || !object_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let section = section(object_id)?;
    let mut url = String::from(DASHBOARD);
    if let Some(account) = connect_account.filter(|a| {
        a.starts_with("acct_") && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }) {
        url.push('/');
        url.push_str(account);
    }
    if !livemode {
        url.push_str("/test");
    }
    url.push('/');
    url.push_str(section);
    url.push('/');
    url.push_str(object_id);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_by_mode_and_account() {
        let cases = [
            (
                "in_1A",
                true,
                None,
                Some("https://dashboard.stripe.com/invoices/in_1A"),
            ),
            (
                "in_1A",
                false,
                None,
                Some("https://dashboard.stripe.com/test/invoices/in_1A"),
            ),
            (
                "ch_1A",
                false,
                Some("acct_9Z"),
                Some("https://dashboard.stripe.com/acct_9Z/test/payments/ch_1A"),
            ),
            (
                "pi_1A",
                true,
                Some("acct_9Z"),
                Some("https://dashboard.stripe.com/acct_9Z/payments/pi_1A"),
            ),
            (
                "cus_1",
                true,
                None,
                Some("https://dashboard.stripe.com/customers/cus_1"),
            ),
            (
                "sub_1",
                true,
                None,
                Some("https://dashboard.stripe.com/subscriptions/sub_1"),
            ),
            (
                "dp_1",
                true,
                None,
                Some("https://dashboard.stripe.com/disputes/dp_1"),
            ),
            (
                "po_1",
                false,
                None,
                Some("https://dashboard.stripe.com/test/payouts/po_1"),
            ),
            (
                "evt_1",
                true,
                None,
                Some("https://dashboard.stripe.com/events/evt_1"),
            ),
            ("xyz_1", true, None, None),
            ("in_1/../../x", true, None, None),
            (
                "in_1",
                true,
                Some("not-an-account"),
                Some("https://dashboard.stripe.com/invoices/in_1"),
            ),
        ];
        for (id, live, account, expected) in cases {
            assert_eq!(
                dashboard_url(id, live, account).as_deref(),
                expected,
                "{id} {live} {account:?}"
            );
        }
    }
}
