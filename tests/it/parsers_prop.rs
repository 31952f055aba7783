//! Property tests of the two parsers that see untrusted bytes: the
//! `Stripe-Signature` header and the event envelope.

use proptest::prelude::*;
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::{envelope, signature};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any header text parses or is refused; it never panics.
    #[test]
    fn header_parser_never_panics(header in ".{0,300}") {
        let _ = signature::parse_header(&header);
    }

    /// Header-shaped noise: every accepted header has a timestamp and 1..=16 signatures.
    #[test]
    fn header_like_input(items in proptest::collection::vec(("(t|v1|v0| t|x)", "[0-9a-f]{0,70}"), 0..20)) {
        let header: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Ok(parsed) = signature::parse_header(&header.join(",")) {
            prop_assert!(!parsed.signatures.is_empty() && parsed.signatures.len() <= signature::MAX_SIGNATURES);
        }
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

    /// Structurally plausible JSON: accepted envelopes always have an evt_ id and a clean type.
    #[test]
    fn envelope_like_json(
        id in "(evt_[A-Za-z0-9]{1,30}|evt_|ch_1|evt_a b|)",
        object in "(event|invoice|v2.core.event)",
        event_type in "([a-z_.]{1,30}|INVOICE|a b)",
        created in any::<i64>(),
        livemode in any::<bool>(),
        data in "(\\{\\}|\\[\\]|1|null|\\{\"a\":1\\})",
    ) {
        let body = format!(r#"{{"id":"{id}","object":"{object}","type":"{event_type}","created":{created},"livemode":{livemode},"data":{{"object":{data}}}}}"#);
        if let Ok(event) = envelope::parse(body.as_bytes()) {
            prop_assert!(event.id.as_str().starts_with("evt_"));
            prop_assert_eq!(object, "event");
            prop_assert!(event.created > 0);
            prop_assert!(event.event_type.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'));
        }
    }
}

mod cards_and_redaction {
    use proptest::prelude::*;
    use stripe_chatops::event::EventView;
    use stripe_chatops::redact::{luhn_valid, mask_card_numbers};
    use stripe_chatops::render::card::Card;
    use stripe_chatops::render::text::{escape_html, fit_escaped, truncate};
    use stripe_chatops::routing::glob_matches;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever a template renders, the card parser answers without panicking,
        /// and an accepted card always has a title.
        #[test]
        fn card_parser_never_panics(text in "((title|field|link|button|severity|badge|footer|summary|x)?:? ?[^\n]{0,40}\n){0,12}") {
            if let Ok(card) = Card::parse(&text) {
                prop_assert!(!card.title.is_empty());
                prop_assert!(card.links.iter().all(|l| l.url.starts_with("https://")));
            }
        }

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
