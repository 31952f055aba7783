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
