//! What happens on a clock: `[reminders.dispute]`, `[reminders.unpaid]`,
//! `[escalation]` and `[[summaries]]`.
//!
//! Dispute reminders are on by default (a missed evidence deadline loses
//! the dispute); follow-ups of unpaid money, escalation and summaries are
//! off until configured.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use serde::Deserialize;

use super::receivers::Receiver;
use super::{Errors, KeyPath};

/// `[reminders]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RemindersFile {
    /// `[reminders.dispute]`: reminders of a dispute's evidence deadline.
    pub dispute: DisputeRemindersFile,
    /// `[reminders.unpaid]`: follow-ups of an open invoice after a failed
    /// payment, and of an open Checkout Session.
    pub unpaid: UnpaidRemindersFile,
}

/// `[reminders.dispute]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DisputeRemindersFile {
    /// How long before the evidence deadline a reminder is posted in the
    /// dispute's thread. Default `["72h", "24h", "4h"]`; `[]` turns them off.
    pub before: Vec<humantime_serde::Serde<Duration>>,
    /// How often the dispute card's countdown ("due in 6 days 14 h") is
    /// edited as time passes. Default `"1h"`; at least `"10m"`.
    #[serde(with = "humantime_serde")]
    pub countdown_every: Duration,
}

impl Default for DisputeRemindersFile {
    fn default() -> Self {
        Self {
            before: DEFAULT_DISPUTE_BEFORE
                .iter()
                .map(|h| Duration::from_secs(h * 3600).into())
                .collect(),
            countdown_every: Duration::from_secs(3600),
        }
    }
}

/// Default `[reminders.dispute] before`, in hours.
pub const DEFAULT_DISPUTE_BEFORE: [u64; 3] = [72, 24, 4];

/// `[reminders.unpaid]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct UnpaidRemindersFile {
    /// The receivers whose unpaid cases are followed up. Default `[]`: off.
    pub receivers: Vec<String>,
    /// How long after the failure each follow-up is posted. Default
    /// `["2h", "24h", "48h"]`. After the last one the case is abandoned.
    pub after: Vec<humantime_serde::Serde<Duration>>,
    /// Who an abandoned case is handed to: one of `[interactions] assignees`.
    pub hand_off_to: Option<String>,
}

impl Default for UnpaidRemindersFile {
    fn default() -> Self {
        Self {
            receivers: Vec::new(),
            after: [2, 24, 48]
                .iter()
                .map(|h| Duration::from_secs(h * 3600).into())
                .collect(),
            hand_off_to: None,
        }
    }
}

/// `[escalation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EscalationFile {
    /// How long a critical card (a dispute, an early fraud warning, a failed
    /// payout) may stay unacknowledged. Default `"30m"`.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    /// Where it is posted again, e.g. `"oncall"`. Without it, the case's own
    /// thread gets the `mention`.
    pub receiver: Option<String>,
    /// Who is called on, e.g. `"<!subteam^S012>"`, `"@finance-leads"`.
    pub mention: Option<String>,
}

impl Default for EscalationFile {
    fn default() -> Self {
        Self {
            after: Duration::from_secs(30 * 60),
            receiver: None,
            mention: None,
        }
    }
}

/// `[[summaries]]`: one scheduled summary.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryFile {
    /// The receiver that gets it.
    pub receiver: String,
    /// `"daily"` (the day before) or `"weekly"` (the seven days before).
    pub every: String,
    /// Local time of day, `"HH:MM"`. Default `"09:00"`.
    #[serde(default = "default_at")]
    pub at: String,
    /// IANA time zone of `at` and of the chart's days. Default `"UTC"`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// With `every = "weekly"`: the day, e.g. `"monday"` (the default).
    #[serde(default)]
    pub day: Option<String>,
}

fn default_at() -> String {
    "09:00".to_owned()
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

/// How often a summary is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Each day, about the day before.
    Daily,
    /// Each week on this day, about the seven days before.
    Weekly(Weekday),
}

impl Every {
    /// The period a summary covers.
    pub fn period(self) -> Duration {
        match self {
            Self::Daily => Duration::from_secs(86_400),
            Self::Weekly(_) => Duration::from_secs(7 * 86_400),
        }
    }
}

/// A validated `[[summaries]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySchedule {
    /// The receiver.
    pub receiver: String,
    /// How often.
    pub every: Every,
    /// Local time of day.
    pub at: NaiveTime,
    /// Its time zone.
    pub timezone: chrono_tz::Tz,
}

/// A validated `[escalation]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// Unacknowledged for this long.
    pub after: Duration,
    /// Posted again there; `None`: the case's own thread.
    pub receiver: Option<String>,
    /// Who is called on.
    pub mention: Option<String>,
}

/// Everything that happens on a clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    /// Dispute reminders, longest first; empty: off.
    pub dispute_before: Vec<Duration>,
    /// How often a dispute's countdown is edited.
    pub countdown_every: Duration,
    /// Receivers whose unpaid cases are followed up.
    pub unpaid_receivers: Vec<String>,
    /// Follow-ups after the failure, shortest first.
    pub unpaid_after: Vec<Duration>,
    /// Who an abandoned case is handed to.
    pub hand_off_to: Option<String>,
    /// Escalation of unacknowledged critical cards; `None`: off.
    pub escalation: Option<Escalation>,
    /// Scheduled summaries.
    pub summaries: Vec<SummarySchedule>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            dispute_before: DEFAULT_DISPUTE_BEFORE
                .iter()
                .map(|h| Duration::from_secs(h * 3600))
                .collect(),
            countdown_every: Duration::from_secs(3600),
            unpaid_receivers: Vec::new(),
            unpaid_after: Vec::new(),
            hand_off_to: None,
            escalation: None,
            summaries: Vec::new(),
        }
    }
}

/// The longest reminder offset accepted: a dispute's window is at most a few weeks.
const MAX_OFFSET: Duration = Duration::from_secs(60 * 86_400);

/// Validates the scheduled work against the receivers and assignees.
pub(super) fn validate(
    reminders: &RemindersFile,
    escalation: Option<&EscalationFile>,
    summaries: &[SummaryFile],
    receivers: &BTreeMap<String, Receiver>,
    assignees: &[String],
    errors: &mut Errors<'_>,
) -> ScheduleConfig {
    let root = KeyPath::root();
    let offsets =
        |list: &[humantime_serde::Serde<Duration>], path: KeyPath, errors: &mut Errors<'_>| {
            let mut out = Vec::new();
            for (i, d) in list.iter().enumerate() {
                let d = **d;
                if d < Duration::from_secs(60) || d > MAX_OFFSET {
                    errors.push(
                        path.index(i),
                        "must be between 1m and 60 days, e.g. \"24h\"",
                    );
                } else if out.contains(&d) {
                    errors.push(path.index(i), "is listed twice");
                } else {
                    out.push(d);
                }
            }
            out
        };
    let dispute_path = root.key("reminders").key("dispute");
    let mut dispute_before = offsets(
        &reminders.dispute.before,
        dispute_path.key("before"),
        errors,
    );
    dispute_before.sort_by(|a, b| b.cmp(a));
    if reminders.dispute.countdown_every < Duration::from_secs(600) {
        errors.push(
            dispute_path.key("countdown_every"),
            "must be at least 10m: each edit is a call to the chat platform",
        );
    }
    let unpaid_path = root.key("reminders").key("unpaid");
    let mut unpaid_after = offsets(&reminders.unpaid.after, unpaid_path.key("after"), errors);
    unpaid_after.sort();
    for (i, name) in reminders.unpaid.receivers.iter().enumerate() {
        if !receivers.contains_key(name) {
            errors.push(
                unpaid_path.key("receivers").index(i),
                format!("unknown receiver {name:?}"),
            );
        }
    }
    if !reminders.unpaid.receivers.is_empty() && unpaid_after.is_empty() {
        errors.push(
            unpaid_path.key("after"),
            "needs at least one follow-up when receivers are set",
        );
    }
    if let Some(to) = &reminders.unpaid.hand_off_to
        && !assignees.contains(to)
    {
        errors.push(
            unpaid_path.key("hand_off_to"),
            format!("{to:?} is not one of [interactions] assignees"),
        );
    }
    let escalation = escalation.and_then(|file| {
        let path = root.key("escalation");
        if file.after < Duration::from_secs(60) {
            errors.push(path.key("after"), "must be at least 1m");
        }
        if let Some(name) = &file.receiver
            && !receivers.contains_key(name)
        {
            errors.push(path.key("receiver"), format!("unknown receiver {name:?}"));
        }
        if file.receiver.is_none() && file.mention.is_none() {
            errors.push(
                path.clone(),
                "needs a receiver to post to or a mention to call on",
            );
            return None;
        }
        Some(Escalation {
            after: file.after,
            receiver: file.receiver.clone(),
            mention: file.mention.clone(),
        })
    });
    let summaries = summaries
        .iter()
        .enumerate()
        .filter_map(|(i, file)| {
            validate_summary(file, root.key("summaries").index(i), receivers, errors)
        })
        .collect();
    ScheduleConfig {
        dispute_before,
        countdown_every: reminders.dispute.countdown_every,
        unpaid_receivers: reminders.unpaid.receivers.clone(),
        unpaid_after,
        hand_off_to: reminders.unpaid.hand_off_to.clone(),
        escalation,
        summaries,
    }
}

fn validate_summary(
    file: &SummaryFile,
    path: KeyPath,
    receivers: &BTreeMap<String, Receiver>,
    errors: &mut Errors<'_>,
) -> Option<SummarySchedule> {
    let mut ok = true;
    if !receivers.contains_key(&file.receiver) {
        errors.push(
            path.key("receiver"),
            format!("unknown receiver {:?}", file.receiver),
        );
        ok = false;
    }
    let day = match file.day.as_deref() {
        None => Some(Weekday::Mon),
        Some(day) => match Weekday::from_str(day) {
            Ok(day) => Some(day),
            Err(_) => {
                errors.push(
                    path.key("day"),
                    format!("{day:?} is not a day of the week, e.g. \"monday\""),
                );
                None
            }
        },
    };
    let every = match (file.every.as_str(), day) {
        ("daily", _) => {
            if file.day.is_some() {
                errors.push(path.key("day"), "only a weekly summary has a day");
            }
            Some(Every::Daily)
        }
        ("weekly", Some(day)) => Some(Every::Weekly(day)),
        ("weekly", None) => None,
        (other, _) => {
            errors.push(
                path.key("every"),
                format!("{other:?} must be \"daily\" or \"weekly\""),
            );
            None
        }
    };
    let at = match NaiveTime::parse_from_str(&file.at, "%H:%M") {
        Ok(at) => Some(at),
        Err(_) => {
            errors.push(
                path.key("at"),
                format!("{:?} is not a time of day, e.g. \"09:00\"", file.at),
            );
            None
        }
    };
    let timezone = match chrono_tz::Tz::from_str(&file.timezone) {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(
                path.key("timezone"),
                format!(
                    "{:?} is not an IANA time zone, e.g. \"Europe/Paris\"",
                    file.timezone
                ),
            );
            None
        }
    };
    match (ok, every, at, timezone) {
        (true, Some(every), Some(at), Some(timezone)) => Some(SummarySchedule {
            receiver: file.receiver.clone(),
            every,
            at,
            timezone,
        }),
        _ => None,
    }
}
