//! Property tests of the two parsers that see untrusted bytes: the
//! `Stripe-Signature` header and the event envelope.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use stripe_chatops::secret::Secret;
use stripe_chatops::stripe::{envelope, signature};

/// Runs a property over `cases` generated inputs, where `check` returns
/// whether the parser accepted the input; fails unless some inputs were
/// accepted and some refused, so that the property's checks of accepted
/// values really ran.
fn accepts_some<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) {
    let (accepted, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&strategy, |value| {
            let counter = if check(value)? { &accepted } else { &refused };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    assert!(
        accepted > 0 && refused > 0,
        "{name}: {accepted} accepted and {refused} refused of {cases}; the generator must reach both"
    );
}

/// Header-shaped noise: every accepted header has a timestamp and 1..=16 signatures.
#[test]
fn header_like_input() {
    let value = prop_oneof!["[0-9]{1,12}", "[0-9a-f]{64}", "[0-9a-f]{0,70}"];
    let items = proptest::collection::vec(("(t|v1|v0| t|x)", value), 0..8);
    accepts_some("header_like_input", 2000, items, |items| {
        let header: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let Ok(parsed) = signature::parse_header(&header.join(",")) else {
            return Ok(false);
        };
        prop_assert!(
            !parsed.signatures.is_empty() && parsed.signatures.len() <= signature::MAX_SIGNATURES
        );
        Ok(true)
    });
}

/// Structurally plausible JSON: accepted envelopes always have an evt_ id and a clean type.
#[test]
fn envelope_like_json() {
    let fields = (
        prop_oneof![3 => "evt_[A-Za-z0-9]{1,30}", 1 => "(evt_|ch_1|evt_a b|)"],
        prop_oneof![3 => Just("event".to_owned()), 1 => "(invoice|v2.core.event)"],
        prop_oneof![3 => "[a-z_.]{1,30}", 1 => "(INVOICE|a b)"],
        prop_oneof![3 => 1i64..4_000_000_000, 1 => any::<i64>()],
        any::<bool>(),
        prop_oneof![3 => "(\\{\\}|\\{\"a\":1\\})", 1 => "(\\[\\]|1|null)"],
    );
    accepts_some(
        "envelope_like_json",
        2000,
        fields,
        |(id, object, event_type, created, livemode, data)| {
            let body = format!(
                r#"{{"id":"{id}","object":"{object}","type":"{event_type}","created":{created},"livemode":{livemode},"data":{{"object":{data}}}}}"#
            );
            let Ok(event) = envelope::parse(body.as_bytes()) else {
                return Ok(false);
            };
            prop_assert!(event.id.as_str().starts_with("evt_"));
            prop_assert_eq!(object, "event");
            prop_assert!(event.created > 0);
            prop_assert!(
                event
                    .event_type
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
            );
            Ok(true)
        },
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any header text parses or is refused; it never panics.
    #[test]
    fn header_parser_never_panics(header in ".{0,300}") {
        let _ = signature::parse_header(&header);
    }

    /// What we sign, we verify; any flipped body byte makes it fail.
    #[test]
    fn sign_verify_round_trip(body in proptest::collection::vec(any::<u8>(), 1..512), t in 1i64..4_000_000_000, flip in any::<prop::sample::Index>()) {
        let secret = Secret::new("whsec_prop_secret");
        let header = signature::sign(&body, &[&secret], t);
        let tolerance = std::time::Duration::from_secs(300);
        prop_assert_eq!(signature::verify(Some(&header), &body, std::slice::from_ref(&secret), tolerance, t), Ok(t));
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 0x01;
        prop_assert_eq!(signature::verify(Some(&header), &tampered, &[secret], tolerance, t), Err(signature::SignatureError::Mismatch));
    }

    /// Arbitrary bytes never panic the envelope parser.
    #[test]
    fn envelope_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = envelope::parse(&body);
    }

}

mod cards_and_redaction {
    use proptest::prelude::*;

    /// Whatever a template renders, the card parser answers without panicking,
    /// and an accepted card always has a title and only https links.
    #[test]
    fn card_parser_never_panics() {
        let line = prop_oneof![
            3 => "(title|field|link|button|severity|badge|footer|summary): [^\n|]{1,30}( \\| (https://[a-z.]{1,10}|[a-z ]{1,10}))?",
            1 => "(title|field|link|button|severity|badge|footer|summary|x)?:? ?[^\n]{0,40}",
        ];
        let text = (
            proptest::option::weighted(0.8, "title: [^\n]{1,30}"),
            proptest::collection::vec(line, 0..12),
        );
        super::accepts_some("card_parser_never_panics", 1000, text, |(title, lines)| {
            let text = title
                .into_iter()
                .chain(lines)
                .collect::<Vec<_>>()
                .join("\n");
            let Ok(card) = Card::parse(&text) else {
                return Ok(false);
            };
            prop_assert!(!card.title.is_empty());
            prop_assert!(card.links.iter().all(|l| l.url.starts_with("https://")));
            Ok(true)
        });
    }
    use stripe_chatops::event::EventView;
    use stripe_chatops::redact::{luhn_valid, mask_card_numbers};
    use stripe_chatops::render::card::Card;
    use stripe_chatops::render::text::{escape_html, fit_escaped, truncate};
    use stripe_chatops::routing::glob_matches;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Truncation keeps at most `max` characters and never splits a character.
        #[test]
        fn truncation_is_bounded(text in "\\PC{0,200}", max in 0usize..120) {
            let cut = truncate(&text, max);
            prop_assert!(cut.chars().count() <= max);
            let fitted = fit_escaped(&text, max, escape_html);
            prop_assert!(fitted.chars().count() <= max);
            for (i, _) in fitted.match_indices('&') {
                let rest = &fitted[i..];
                prop_assert!(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"));
            }
        }

        /// After masking, no Luhn-valid run of 12–19 plain digits is left.
        #[test]
        fn masking_leaves_no_card_number(parts in proptest::collection::vec("([0-9]{1,19}|[ -]|[a-z]{1,3})", 0..12)) {
            let masked = mask_card_numbers(&parts.concat());
            // No window of whole digit groups (joined by single spaces or dashes) is a card number.
            let chars: Vec<char> = masked.chars().collect();
            let mut groups: Vec<Vec<u8>> = Vec::new();
            let check = |groups: &mut Vec<Vec<u8>>| -> Result<(), TestCaseError> {
                for a in 0..groups.len() {
                    for b in a..groups.len() {
                        let d: Vec<u8> = groups[a..=b].concat();
                        prop_assert!(!((12..=19).contains(&d.len()) && luhn_valid(&d)), "{masked}");
                    }
                }
                groups.clear();
                Ok(())
            };
            let mut current: Vec<u8> = Vec::new();
            for (i, c) in chars.iter().enumerate() {
                if let Some(d) = c.to_digit(10) {
                    current.push(d as u8);
                    continue;
                }
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
                let joins = (*c == ' ' || *c == '-')
                    && i > 0 && chars[i - 1].is_ascii_digit()
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if !joins {
                    check(&mut groups)?;
                }
            }
            if !current.is_empty() {
                groups.push(current);
            }
            check(&mut groups)?;
        }

        /// Globs never panic; `*` alone matches everything and a literal matches itself.
        #[test]
        fn globs_are_total(pattern in "[a-z.*_]{0,20}", text in "[a-z._]{0,20}") {
            let _ = glob_matches(&pattern, &text);
            prop_assert!(glob_matches("*", &text));
            prop_assert!(glob_matches(&text, &text));
        }

        /// Any JSON object with a type and a data.object gets a view, never a panic.
        #[test]
        fn views_of_arbitrary_objects(
            event_type in "(invoice|charge|charge.dispute|customer.subscription|payout|x)\\.[a-z_]{1,12}",
            amount in proptest::option::of(any::<i64>()),
            currency in proptest::option::of("[a-zA-Z]{0,4}"),
            noise in proptest::collection::btree_map("[a-z_]{1,10}", any::<i32>(), 0..6),
        ) {
            let mut object = serde_json::json!({ "object": "thing", "id": "x_1" });
            if let Some(amount) = amount { object["amount"] = amount.into(); object["amount_due"] = amount.into(); }
            if let Some(currency) = currency { object["currency"] = currency.into(); }
            for (key, value) in noise { object[key] = value.into(); }
            let event = serde_json::json!({ "id": "evt_1", "type": event_type, "created": 1, "livemode": false, "data": { "object": object } });
            let view = EventView::parse(&event, "default").unwrap();
            prop_assert_eq!(view.event_type, event_type);
        }
    }
}
