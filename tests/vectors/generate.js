// Generates stripe_signatures.json: Stripe-Signature test vectors made by
// Stripe's own SDK (stripe-node's generateTestHeaderString), each with
// stripe-node's own verdict (constructEvent at a fixed receivedAt).
//
//   cd tests/vectors && npm install && npm run generate
//
// tests/it/signature_vectors.rs checks our verifier against every case.
'use strict';
const Stripe = require('stripe');
const stripe = new Stripe('sk_test_vectors_not_a_key');
const version = JSON.parse(require('fs').readFileSync(require('path').join(__dirname, 'node_modules/stripe/package.json'), 'utf8')).version;

const T = 1763251200; // 2025-11-16T00:00:00Z, a fixed signing time
const OLD = 'whsec_vectors_old_3f9a1c2b7d';
const NEW = 'whsec_vectors_new_8e4d6a0f5c';
const OTHER = 'whsec_vectors_other_1b2c3d4e';
const payload = JSON.stringify({
  id: 'evt_1VecT0rS1gnatureTest01',
  object: 'event',
  api_version: '2025-03-31.basil',
  created: T,
  data: { object: { id: 'in_1VecT0r', object: 'invoice', customer_name: 'Jenny Rosén ✓', amount_due: 4900, currency: 'usd' } },
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
  type: 'invoice.payment_failed',
});
const pretty = JSON.stringify(JSON.parse(payload), null, 2) + '\n';

const header = (secret, body = payload, timestamp = T) =>
  stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
const v1 = (h) => h.split(',').find((p) => p.startsWith('v1='));

// stripe-node accepts when constructEvent succeeds with any one of the secrets.
function stripeNode(body, hdr, secrets, tolerance, now) {
  let last = 'no secret';
  for (const secret of secrets) {
    try {
      stripe.webhooks.constructEvent(body, hdr, secret, tolerance, undefined, now * 1000);
      return 'accepted';
    } catch (e) {
      last = e.message.split('\n')[0].trim();
    }
  }
  return 'rejected: ' + last;
}

const cases = [];
function add(name, { body = payload, hdr, secrets, tolerance = 300, now = T, expect, note }) {
  const verdict = stripeNode(body, hdr, secrets, tolerance, now);
  const derived = verdict === 'accepted' ? 'ok' : verdict.includes('tolerance') ? 'stale'
    : verdict.includes('matching') ? 'mismatch' : 'malformed';
  if (!expect) expect = derived;
  cases.push({ name, payload: body, header: hdr, secrets, tolerance, now, expect, stripe_node: verdict, ...(note ? { note } : {}) });
}

const oldHeader = header(OLD);
const newHeader = header(NEW);
const rotated = `${oldHeader},${v1(newHeader)}`;

add('one secret, one v1', { hdr: newHeader, secrets: [NEW] });
add('rotation: two v1, verified with the new secret', { hdr: rotated, secrets: [NEW] });
add('rotation: two v1, verified with the old secret', { hdr: rotated, secrets: [OLD] });
add('rotation: one v1, both secrets configured', { hdr: oldHeader, secrets: [NEW, OLD] });
add('rotation: two v1, neither secret configured', { hdr: rotated, secrets: [OTHER] });
add('wrong secret', { hdr: newHeader, secrets: [OTHER] });
add('v0 alongside v1 is ignored', { hdr: `${newHeader},v0=${'0'.repeat(64)}`, secrets: [NEW] });
add('only v0 is not enough', { hdr: `t=${T},v0=${v1(newHeader).slice(3)}`, secrets: [NEW] });
add('tampered body (one character)', { body: payload.replace('4900', '4901'), hdr: newHeader, secrets: [NEW] });
add('re-serialised body (pretty-printed)', { body: pretty, hdr: newHeader, secrets: [NEW] });
add('pretty-printed body signed as sent', { body: pretty, hdr: header(NEW, pretty), secrets: [NEW] });
add('tolerance edge: exactly 300 s old', { hdr: newHeader, secrets: [NEW], now: T + 300 });
add('tolerance edge: 301 s old', { hdr: newHeader, secrets: [NEW], now: T + 301 });
add('tolerance edge: 60 s tolerance, 61 s old', { hdr: newHeader, secrets: [NEW], tolerance: 60, now: T + 61 });
add('timestamp 300 s in the future', { hdr: newHeader, secrets: [NEW], now: T - 300 });
add('timestamp 301 s in the future', {
  hdr: newHeader, secrets: [NEW], now: T - 301, expect: 'stale',
  note: 'stripe-node checks only the age; we also refuse a timestamp further ahead of our clock than the tolerance',
});
add('signature of another timestamp', { hdr: `t=${T + 1},${v1(newHeader)}`, secrets: [NEW], now: T + 1 });
add('no timestamp', { hdr: v1(newHeader), secrets: [NEW] });
add('secret with a trailing newline does not match', { hdr: header(NEW + '\n'), secrets: [NEW] });

process.stdout.write(JSON.stringify({ generator: `stripe-node ${version} webhooks.generateTestHeaderString`, signed_at: T, cases }, null, 2) + '\n');
