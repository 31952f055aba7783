//! `[delivery]`: retries, leases, folding, and the rate budgets of each
//! platform (`[delivery.slack]` and its siblings).
//!
//! The defaults are the platforms' documented limits (see
//! `../shared/PLATFORMS.md`): Slack about one message a second per channel,
//! Telegram one a second per chat, twenty a minute per group and thirty a
//! second overall, Discord fifty requests a second per bot (serenity reads the
//! per-route buckets from the response headers on top of that).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{Errors, KeyPath};
use crate::platform::Platform;

/// `[delivery]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct DeliveryFile {
    /// Waits between tries of a failed send; the last one repeats until `give_up_after`.
    pub retry_schedule: Vec<humantime_serde::Serde<Duration>>,
    /// After this long since its first try, a failing message becomes a dead letter.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// How long a process owns a destination's queue before another may take it over.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Fold a destination's backlog into a digest when its budget cannot deliver it within this time.
    #[serde(with = "humantime_serde")]
    pub fold_after: Duration,
    /// How many of the largest items a digest lists.
    pub digest_top_items: usize,
    /// Slack budgets.
    pub slack: RatesFile,
    /// Discord budgets.
    pub discord: RatesFile,
    /// Telegram budgets.
    pub telegram: RatesFile,
    /// Generic webhook budgets.
    pub webhook: RatesFile,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        Self {
            retry_schedule: DEFAULT_RETRY_SCHEDULE.map(Into::into).to_vec(),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(30),
            fold_after: Duration::from_secs(10),
            digest_top_items: 5,
            slack: RatesFile::default(),
            discord: RatesFile::default(),
            telegram: RatesFile::default(),
            webhook: RatesFile::default(),
        }
    }
}

/// Default `[delivery] retry_schedule`: quick at first, then every five minutes.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
];

/// `[delivery.slack]` and its siblings: overrides of the default budgets.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RatesFile {
    /// Messages per destination (channel, chat), e.g. `"1/s"` or `"20/m"`.
    pub per_destination: Option<String>,
    /// Messages a destination may get at once before the pace applies.
    pub burst: Option<u32>,
    /// Messages per Telegram group or supergroup (negative chat id), e.g. `"20/m"`.
    pub per_group: Option<String>,
    /// Messages per second over all destinations of the platform.
    pub global: Option<String>,
}

/// A pace: `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// In how long.
    pub per: Duration,
}

impl Rate {
    /// `count` per second.
    pub const fn per_second(count: u32) -> Self {
        Self {
            count,
            per: Duration::from_secs(1),
        }
    }

    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            per: Duration::from_secs(60),
        }
    }

    /// Messages per second, as a float.
    pub fn per_sec(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }

    /// Parses `"N/s"`, `"N/m"`, `"N/h"` or `"N/5s"` style text.
    pub fn parse(text: &str) -> Option<Self> {
        let (count, unit) = text.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).ok()?,
        };
        (!per.is_zero()).then_some(Self { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// The budgets of one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Per destination.
    pub per_destination: Rate,
    /// Burst per destination.
    pub burst: u32,
    /// Per Telegram group (none elsewhere).
    pub per_group: Option<Rate>,
    /// Over the whole platform.
    pub global: Rate,
}

impl Rates {
    /// The documented budgets of a platform; `None` for standard output.
    pub fn default_of(platform: Platform) -> Option<Rates> {
        match platform {
            Platform::Slack => Some(Self::SLACK),
            Platform::Discord => Some(Self::DISCORD),
            Platform::Telegram => Some(Self::TELEGRAM),
            Platform::Webhook => Some(Self::WEBHOOK),
            Platform::Console => None,
        }
    }

    /// Slack: about 1 message a second per channel (`chat.postMessage` special tier).
    pub const SLACK: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: None,
        global: Rate::per_second(20),
    };
    /// Discord: 50 requests a second per bot; per-route buckets come from the headers.
    pub const DISCORD: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: None,
        global: Rate::per_second(50),
    };
    /// Telegram: 1 a second per chat, 20 a minute per group, 30 a second overall.
    pub const TELEGRAM: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: Some(Rate::per_minute(20)),
        global: Rate::per_second(30),
    };
    /// Generic webhooks: a polite default for bridges that document no limit.
    pub const WEBHOOK: Rates = Rates {
        per_destination: Rate::per_second(10),
        burst: 10,
        per_group: None,
        global: Rate::per_second(100),
    };
}

/// Validated `[delivery]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// Waits between tries.
    pub retry_schedule: Vec<Duration>,
    /// When a failing message becomes a dead letter.
    pub give_up_after: Duration,
    /// Queue ownership lease.
    pub lease: Duration,
    /// Folding horizon.
    pub fold_after: Duration,
    /// Items listed in a digest.
    pub digest_top_items: usize,
    /// The budgets of each platform that has any (standard output has none).
    pub rates: BTreeMap<Platform, Rates>,
}

impl DeliveryConfig {
    /// The budgets of a platform; `None` where nothing paces it (standard output).
    pub fn rates(&self, platform: Platform) -> Option<&Rates> {
        self.rates.get(&platform)
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let file = DeliveryFile::default();
        Self {
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            give_up_after: file.give_up_after,
            lease: file.lease,
            fold_after: file.fold_after,
            digest_top_items: file.digest_top_items,
            rates: Platform::ALL
                .into_iter()
                .filter_map(|p| Rates::default_of(p).map(|rates| (p, rates)))
                .collect(),
        }
    }
}

impl DeliveryFile {
    pub(super) fn validate(&self, errors: &mut Errors<'_>) -> DeliveryConfig {
        let path = KeyPath::root().key("delivery");
        if self.retry_schedule.is_empty() {
            errors.push(
                path.key("retry_schedule"),
                "needs at least one wait, e.g. [\"1s\", \"30s\", \"5m\"]",
            );
        }
        let retry_schedule: Vec<Duration> = self.retry_schedule.iter().map(|d| **d).collect();
        if let Some(index) = retry_schedule.iter().position(Duration::is_zero) {
            errors.push(
                path.key("retry_schedule").index(index),
                "must be greater than 0",
            );
        }
        for (key, value) in [
            ("give_up_after", self.give_up_after),
            ("fold_after", self.fold_after),
        ] {
            if value.is_zero() {
                errors.push(path.key(key), "must be greater than 0");
            }
        }
        if self.lease < Duration::from_secs(1) {
            errors.push(
                path.key("lease"),
                "must be at least 1s: it is renewed every third of itself",
            );
        }
        let rates = |file: &RatesFile, name: &str, default: Rates, errors: &mut Errors<'_>| {
            let table = path.key(name);
            let mut parse = |key: &str, text: Option<&String>, default: Rate| match text {
                None => default,
                Some(text) => Rate::parse(text).unwrap_or_else(|| {
                    errors.push(
                        table.key(key),
                        format!("{text:?} is not a rate like \"1/s\", \"20/m\" or \"5/5s\""),
                    );
                    default
                }),
            };
            let per_destination = parse(
                "per_destination",
                file.per_destination.as_ref(),
                default.per_destination,
            );
            let global = parse("global", file.global.as_ref(), default.global);
            let per_group = match (&file.per_group, default.per_group) {
                (Some(text), fallback) => {
                    Some(parse("per_group", Some(text), fallback.unwrap_or(global)))
                }
                (None, fallback) => fallback,
            };
            let burst = file.burst.unwrap_or(default.burst);
            if burst == 0 {
                errors.push(table.key("burst"), "must be at least 1");
            }
            Rates {
                per_destination,
                burst: burst.max(1),
                per_group,
                global,
            }
        };
        DeliveryConfig {
            retry_schedule,
            give_up_after: self.give_up_after,
            lease: self.lease,
            fold_after: self.fold_after,
            digest_top_items: self.digest_top_items,
            rates: [
                (Platform::Slack, &self.slack),
                (Platform::Discord, &self.discord),
                (Platform::Telegram, &self.telegram),
                (Platform::Webhook, &self.webhook),
            ]
            .into_iter()
            .filter_map(|(platform, file)| {
                let default = Rates::default_of(platform)?;
                Some((platform, rates(file, platform.name(), default, errors)))
            })
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_the_documented_forms() {
        assert_eq!(Rate::parse("1/s"), Some(Rate::per_second(1)));
        assert_eq!(Rate::parse("20/m"), Some(Rate::per_minute(20)));
        assert_eq!(
            Rate::parse("5/5s"),
            Some(Rate {
                count: 5,
                per: Duration::from_secs(5)
            })
        );
        assert!((Rate::parse("20/m").unwrap().per_sec() - 1.0 / 3.0).abs() < 1e-9);
        for bad in ["", "1", "0/s", "x/s", "1/", "1/0s", "-1/s"] {
            assert_eq!(Rate::parse(bad), None, "{bad:?}");
        }
    }
}
