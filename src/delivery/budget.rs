//! Rate budgets: the bot paces itself per destination, per Telegram group
//! and per platform, so that in normal operation no platform answers 429.
//!
//! Each budget is a GCRA limiter from `governor`. The pace is 5 % slower
//! than the configured rate, so that clock jitter between us and the
//! platform never makes a message land a hair early. Bursts apply per
//! destination only; group and platform limits are paced evenly, which also
//! keeps any sliding window of theirs within its limit.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::{DeliveryConfig, Destination, Rate};

/// How much slower than the configured rate the bot paces itself.
const SAFETY_MARGIN: f64 = 1.05;

/// The limits one destination's messages pass through, in order.
pub struct Budget {
    limiters: Vec<(Rate, u32, Arc<DefaultDirectRateLimiter>)>,
    /// Without a burst, one message per period measured from when the last
    /// call returned: the platform counts a message when it arrives, and
    /// that is only known to have happened by then. A call delayed on its
    /// way (a busy machine) then never lands within a period of the next.
    spacing: Option<(Duration, Arc<Mutex<Option<Instant>>>)>,
}

/// A message's place in a budget, held across the call to the platform:
/// when it is dropped, the call has returned, and the next one may be spaced from then.
pub struct Permit {
    finished: Option<Arc<Mutex<Option<Instant>>>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(finished) = &self.finished {
            *finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
    }
}

impl Budget {
    /// Waits until every limit allows one more message, and takes it; hold
    /// the permit until the platform answered.
    pub async fn acquire(&self) -> Permit {
        for (_, _, limiter) in &self.limiters {
            limiter.until_ready().await;
        }
        if let Some((period, finished)) = &self.spacing {
            let last = *finished.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = last {
                tokio::time::sleep_until((last + *period).into()).await;
            }
            return Permit {
                finished: Some(finished.clone()),
            };
        }
        Permit { finished: None }
    }

    /// How many messages the budget can deliver within `horizon`, from idle.
    pub fn capacity_within(&self, horizon: Duration) -> u64 {
        self.limiters
            .iter()
            .map(|(rate, burst, _)| {
                let paced = rate.per_sec() / SAFETY_MARGIN * horizon.as_secs_f64();
                u64::from(*burst) + paced.floor() as u64
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The slowest pace, for messages.
    pub fn describe(&self) -> String {
        self.limiters
            .iter()
            .map(|(rate, _, _)| rate.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn limiter(rate: Rate, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = rate.per.mul_f64(SAFETY_MARGIN) / rate.count.max(1);
    let quota = Quota::with_period(period.max(Duration::from_micros(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    Arc::new(RateLimiter::direct(quota))
}

/// Every budget of the process, created on first use.
pub struct Budgets {
    config: DeliveryConfig,
    shared: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    finished: Mutex<HashMap<String, Arc<Mutex<Option<Instant>>>>>,
}

impl Budgets {
    /// Budgets with `config`'s rates.
    pub fn new(config: DeliveryConfig) -> Self {
        Self {
            config,
            shared: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
        }
    }

    /// The `[delivery]` these budgets were made from.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    fn shared(&self, key: String, rate: Rate, burst: u32) -> Arc<DefaultDirectRateLimiter> {
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared
            .entry(key)
            .or_insert_with(|| limiter(rate, burst))
            .clone()
    }

    /// The budget of a destination; `None` for standard output, which has no limit.
    pub fn for_destination(&self, destination: &Destination) -> Option<Budget> {
        let platform = destination.platform();
        let rates = self.config.rates(platform)?;
        let (key, group) = destination.pace_key()?;
        let platform = platform.name();
        let mut limiters = vec![(
            rates.per_destination,
            rates.burst,
            self.shared(
                format!("{platform}:{key}"),
                rates.per_destination,
                rates.burst,
            ),
        )];
        if let (true, Some(per_group)) = (group, rates.per_group) {
            limiters.push((
                per_group,
                1,
                self.shared(format!("{platform}-group:{key}"), per_group, 1),
            ));
        }
        limiters.push((
            rates.global,
            1,
            self.shared(format!("{platform}-global"), rates.global, 1),
        ));
        let spacing = (rates.burst == 1).then(|| {
            let period = rates.per_destination.per.mul_f64(SAFETY_MARGIN)
                / rates.per_destination.count.max(1);
            let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
            let last = finished
                .entry(format!("{platform}:{key}"))
                .or_default()
                .clone();
            (period, last)
        });
        Some(Budget { limiters, spacing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SlackTarget, TelegramTarget};

    #[test]
    fn capacity_is_the_tightest_limit() {
        let budgets = Budgets::new(DeliveryConfig::default());
        let slack = budgets
            .for_destination(&Destination::Slack(SlackTarget {
                channel: "C1".into(),
            }))
            .unwrap();
        // 1 burst + floor(10 s at 1/1.05 per second) = 1 + 9.
        assert_eq!(slack.capacity_within(Duration::from_secs(10)), 10);
        let group = budgets
            .for_destination(&Destination::Telegram(TelegramTarget {
                chat_id: Some(-100123),
                message_thread_id: None,
                subscribers: None,
            }))
            .unwrap();
        // 20 a minute per group: 1 + floor(10 s / 3.15 s) = 4.
        assert_eq!(group.capacity_within(Duration::from_secs(10)), 4);
        assert!(budgets.for_destination(&Destination::Console).is_none());
    }
}
