"""Signs test interactions exactly as the platforms do, with their own SDKs.

    sign.py slack SECRET TIMESTAMP BODY   -> X-Slack-Signature (slack_sdk)
    sign.py slack-verify SECRET TIMESTAMP BODY SIGNATURE -> "valid" / "invalid"
    sign.py discord SEED_HEX TIMESTAMP BODY -> "PUBLIC_KEY_HEX SIGNATURE_HEX" (PyNaCl)
"""
import sys


def main() -> None:
    kind = sys.argv[1]
    if kind == "slack":
        from slack_sdk.signature import SignatureVerifier

        secret, timestamp, body = sys.argv[2:5]
        print(SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body))
    elif kind == "slack-verify":
        from slack_sdk.signature import SignatureVerifier

        secret, timestamp, body, signature = sys.argv[2:6]
        headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}
        print("valid" if SignatureVerifier(secret).is_valid_request(body, headers) else "invalid")
    elif kind == "discord":
        from nacl.signing import SigningKey

        seed, timestamp, body = sys.argv[2:5]
        key = SigningKey(bytes.fromhex(seed))
        signed = key.sign((timestamp + body).encode())
        print(key.verify_key.encode().hex(), signed.signature.hex())
    else:
        raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
