//! Scheduled summaries: when the next one is due, and its numbers.
//!
//! The numbers come from the store in SQL (see `store::jobs`); the chart's
//! days are the summary's own time zone's, built from hourly sums so that a
//! day of 23 or 25 hours (a change of daylight saving time) is still a day.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::config::schedule::{Every, SummarySchedule};
use crate::render::summary::{Day, GroupKey, Summary, groups_of};
use crate::store::{Measure, Store, StoreError};

/// The first time after `after_ms` (Unix ms) that `schedule` is due, Unix ms.
pub fn next_run(schedule: &SummarySchedule, after_ms: i64) -> i64 {
    let tz = schedule.timezone;
    let after = DateTime::<Utc>::from_timestamp_millis(after_ms).unwrap_or_default();
    let mut date = after.with_timezone(&tz).date_naive();
    // At most eight days ahead for a weekly summary, plus a spare for a gap.
    for _ in 0..10 {
        let day_fits = match schedule.every {
            Every::Daily => true,
            Every::Weekly(day) => date.weekday() == day,
        };
        if day_fits && let Some(at) = local(tz, date, schedule.at) {
            let at = at.timestamp_millis();
            if at > after_ms {
                return at;
            }
        }
        date = date.succ_opt().unwrap_or(date);
    }
    after_ms + schedule.every.period().as_millis() as i64
}

/// A local time as an instant: the earlier of an ambiguous one (autumn),
/// an hour later for one that does not exist (spring).
fn local(tz: Tz, date: NaiveDate, at: chrono::NaiveTime) -> Option<DateTime<Tz>> {
    let naive = date.and_time(at);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + Days::hours(1))).earliest())
}

/// The whole local days a summary run at `at_ms` covers: the `days` days
/// before the run's own day, midnight to midnight in `tz`, Unix seconds.
pub fn period_bounds(tz: Tz, at_ms: i64, days: u32) -> (i64, i64) {
    let today = DateTime::<Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let midnight = |date: NaiveDate| {
        local(tz, date, chrono::NaiveTime::MIN).map_or(at_ms / 1000, |t| t.timestamp())
    };
    let first = today - Days::days(i64::from(days));
    (midnight(first), midnight(today))
}

/// The summary of `start..end` (Unix seconds, the events' `created`) for
/// `receiver`, compared with as long a period before, with days in `tz`.
pub async fn compute(
    store: &dyn Store,
    config: &Config,
    title: &str,
    receiver: &str,
    (start, end): (i64, i64),
    tz: Tz,
) -> Result<Summary, StoreError> {
    let period_secs = end - start;
    let mut now = Vec::new();
    let mut before = Vec::new();
    for measure in Measure::ALL {
        let lines = |rows: Vec<crate::store::MoneyLine>| {
            rows.into_iter()
                .map(|l| (l.account, l.livemode, l.currency, l.count, l.amount))
                .collect::<Vec<_>>()
        };
        now.push(lines(store.summary_money(measure, start, end).await?));
        before.push(lines(
            store
                .summary_money(measure, start - period_secs, start)
                .await?,
        ));
    }
    let mut groups = groups_of(&now, &before);
    // The chart: received and failed per local day.
    let dates = local_dates(start, end, tz);
    let mut per_day: BTreeMap<(GroupKey, NaiveDate), (i64, i64)> = BTreeMap::new();
    for (measure, slot) in [(Measure::Received, 0), (Measure::Failed, 1)] {
        for line in store.summary_hourly(measure, start, end).await? {
            let date = DateTime::<Utc>::from_timestamp(line.hour * 3600, 0)
                .unwrap_or_default()
                .with_timezone(&tz)
                .date_naive();
            let entry = per_day
                .entry(((line.account, line.livemode, line.currency), date))
                .or_default();
            if slot == 0 {
                entry.0 += line.amount;
            } else {
                entry.1 += line.amount;
            }
        }
    }
    for group in &mut groups {
        group.account_name = config.account_name(&group.account).to_owned();
        let key = group.key();
        group.days = dates
            .iter()
            .map(|date| {
                let (received, failed) = per_day
                    .get(&(key.clone(), *date))
                    .copied()
                    .unwrap_or_default();
                Day {
                    date: *date,
                    received,
                    failed,
                }
            })
            .collect();
    }
    let period = format!(
        "{} – {} ({})",
        format_local(start, tz),
        format_local(end, tz),
        tz.name()
    );
    Ok(Summary {
        title: title.to_owned(),
        period,
        groups,
        open_cases: store.open_cases(receiver).await?,
    })
}

/// The local dates a period touches, oldest first (the end excluded).
fn local_dates(start: i64, end: i64, tz: Tz) -> Vec<NaiveDate> {
    let date = |t: i64| {
        DateTime::<Utc>::from_timestamp(t, 0)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive()
    };
    let (first, last) = (date(start), date((end - 1).max(start)));
    let mut out = Vec::new();
    let mut day = first;
    while day <= last && out.len() < 400 {
        out.push(day);
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    out
}

fn format_local(at: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%a %b %-d, %H:%M")
        .to_string()
}

/// `Daily summary` or `Weekly summary`.
pub fn title_of(every: Every) -> &'static str {
    match every {
        Every::Daily => "Daily summary",
        Every::Weekly(_) => "Weekly summary",
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, Weekday};

    use super::*;

    fn schedule(every: Every, tz: &str) -> SummarySchedule {
        SummarySchedule {
            receiver: "finance".to_owned(),
            every,
            at: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            timezone: tz.parse().unwrap(),
        }
    }

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_next_daily_run_is_at_local_nine() {
        let paris = schedule(Every::Daily, "Europe/Paris");
        // 07:00 UTC in winter is 08:00 in Paris: today at 09:00 Paris, 08:00 UTC.
        assert_eq!(
            next_run(&paris, ms("2026-11-30T07:00:00Z")),
            ms("2026-11-30T08:00:00Z")
        );
        // Right at it: the next day.
        assert_eq!(
            next_run(&paris, ms("2026-11-30T08:00:00Z")),
            ms("2026-12-01T08:00:00Z")
        );
        // Summer time: 09:00 Paris is 07:00 UTC.
        assert_eq!(
            next_run(&paris, ms("2026-07-01T12:00:00Z")),
            ms("2026-07-02T07:00:00Z")
        );
    }

    #[test]
    fn the_next_weekly_run_is_on_its_day() {
        let monday = schedule(Every::Weekly(Weekday::Mon), "UTC");
        // Nov 30, 2026 is a Monday.
        assert_eq!(
            next_run(&monday, ms("2026-11-30T10:00:00Z")),
            ms("2026-12-07T09:00:00Z")
        );
        assert_eq!(
            next_run(&monday, ms("2026-11-26T10:00:00Z")),
            ms("2026-11-30T09:00:00Z")
        );
    }

    #[test]
    fn a_week_has_seven_local_days() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let (start, end) = period_bounds(tz, ms("2026-11-30T08:00:00Z"), 7);
        assert_eq!(end, ms("2026-11-29T23:00:00Z") / 1000);
        assert_eq!(start, ms("2026-11-22T23:00:00Z") / 1000);
        let dates = local_dates(start, end, tz);
        assert_eq!(dates.len(), 7);
        assert_eq!(dates[0].to_string(), "2026-11-23");
        assert_eq!(dates[6].to_string(), "2026-11-29");
    }
}
