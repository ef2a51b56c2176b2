//! Credit refills: a job every node runs every minute, which refills each balance due.
//!
//! A balance with a daily refill is due once per UTC day; one with a monthly refill on day `d`
//! once per month, on day `d` — or on the month's last day when the month is shorter (a refill
//! on the 31st happens on 30 April and 28 or 29 February). A refill sets the balance to the
//! refill amount unless it holds more (Unkey's rule: it replaces, it does not add).
//!
//! Nothing about the schedule is kept in memory: a balance is due when its `last_refill_at`
//! (and the time its refill was configured, `refill_since`) lies before the start of the
//! current period, so a restart, or a node that was down at midnight, refills at its next run.
//! The refill itself is one conditional statement ([`refills::claim`]) that also moves
//! `last_refill_at` into the period: of several processes sharing a database, exactly one refills
//! a balance per period, and writes the audit event (`key.update`, actor `system`) in the same
//! transaction.

use std::sync::Arc;
use std::time::Duration;

use keyward_store::refills::{self, RefillRecord};

use crate::Keyward;
use crate::audit::{Actor, Event, Target, TargetKind};
use crate::error::ApiResult;
use crate::work::Work;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil (proleptic Gregorian) date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    days_from_civil(next_year, next_month, 1) - days_from_civil(year, month, 1)
}

/// When the refill period of a balance with refill day `day` (`None`: daily) that contains
/// `now` began, unix ms: today's midnight (UTC) for a daily refill; for a monthly one, midnight
/// of this month's refill day if it has come, else of last month's — the day being the month's
/// last when the month has fewer days.
pub fn period_start(now: i64, day: Option<i64>) -> i64 {
    let today = now.div_euclid(DAY_MS);
    let Some(day) = day else {
        return today * DAY_MS;
    };
    let (year, month, date) = civil_from_days(today);
    let this_month = day.min(days_in_month(year, month));
    let start = if date >= this_month {
        days_from_civil(year, month, this_month)
    } else {
        let (year, month) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
        days_from_civil(year, month, day.min(days_in_month(year, month)))
    };
    start * DAY_MS
}

/// The date a period starts on, for the audit log.
fn date_of(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

fn due(record: &RefillRecord, period_start: i64) -> bool {
    record.last_refill_at.is_none_or(|at| at < period_start)
        && record.refill_since.is_none_or(|at| at < period_start)
}

/// Refills every balance due at the clock's now; returns how many this call refilled.
pub async fn run(keyward: &Keyward) -> ApiResult<u64> {
    let now = keyward.clock.now();
    let mut refilled = 0;
    let mut after: Option<String> = None;
    loop {
        let page =
            refills::with_refill(&mut keyward.db.reader().await?, after.as_deref(), 500).await?;
        let Some(last) = page.last() else {
            return Ok(refilled);
        };
        after = Some(last.id.clone());
        for record in page {
            let start = period_start(now, record.refill_day);
            if due(&record, start) && refill_one(keyward, &record, start, now).await? {
                refilled += 1;
            }
        }
    }
}

/// Claims the refill of `record` for the period from `start`; whether this call did.
async fn refill_one(
    keyward: &Keyward,
    record: &RefillRecord,
    start: i64,
    now: i64,
) -> ApiResult<bool> {
    let mut work = Work::begin(keyward, Actor::system()).await?;
    let Some(remaining) =
        refills::claim(work.tx(), &record.id, record.refill_day, start, now).await?
    else {
        // Refilled by another process, or changed, since it was read: nothing to write.
        return Ok(false);
    };
    let keys = refills::keys_of(work.tx(), &record.id).await?;
    let names: Vec<&str> = keys.iter().map(|(id, _)| id.as_str()).collect();
    work.audit(
        &record.workspace_id,
        Event::KeyUpdate,
        format!(
            "Refilled credits of {} to {remaining} ({} refill of {})",
            names.join(", "),
            if record.refill_day.is_some() {
                "monthly"
            } else {
                "daily"
            },
            date_of(start)
        ),
        keys.iter()
            .map(|(id, name)| Target::new(TargetKind::Key, id, name.as_deref()))
            .collect(),
    );
    work.commit().await?;
    Ok(true)
}

/// Runs [`run`] every `period` until `stop` turns true. A failed run is logged and retried at
/// the next period.
pub async fn run_every(
    keyward: Arc<Keyward>,
    period: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match run(&keyward).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(refilled = n, "credits refilled"),
            Err(err) => {
                tracing::warn!(error = ?err, "the credit refill failed; retrying at the next run")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i64, month: i64, day: i64, hour: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS + hour * 3_600_000
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_016, 19_782, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2025, 2), 28);
        assert_eq!(days_in_month(2025, 4), 30);
        assert_eq!(days_in_month(2025, 12), 31);
    }

    #[test]
    fn a_daily_period_starts_at_midnight_utc() {
        assert_eq!(period_start(at(2026, 3, 14, 15), None), at(2026, 3, 14, 0));
        assert_eq!(period_start(at(2026, 3, 14, 0), None), at(2026, 3, 14, 0));
    }

    #[test]
    fn a_monthly_period_starts_on_its_day_or_the_last_day_of_a_shorter_month() {
        // On the 15th: from the 15th of this month once it has come, else of the last.
        assert_eq!(
            period_start(at(2026, 3, 15, 1), Some(15)),
            at(2026, 3, 15, 0)
        );
        assert_eq!(
            period_start(at(2026, 3, 14, 23), Some(15)),
            at(2026, 2, 15, 0)
        );
        // On the 31st: 28 February in 2026, 29 in 2028, 30 April, 31 March.
        assert_eq!(
            period_start(at(2026, 2, 28, 5), Some(31)),
            at(2026, 2, 28, 0)
        );
        assert_eq!(
            period_start(at(2026, 2, 27, 5), Some(31)),
            at(2026, 1, 31, 0)
        );
        assert_eq!(
            period_start(at(2028, 2, 28, 5), Some(31)),
            at(2028, 1, 31, 0)
        );
        assert_eq!(
            period_start(at(2028, 2, 29, 5), Some(31)),
            at(2028, 2, 29, 0)
        );
        assert_eq!(
            period_start(at(2026, 4, 30, 0), Some(31)),
            at(2026, 4, 30, 0)
        );
        assert_eq!(
            period_start(at(2026, 3, 31, 0), Some(31)),
            at(2026, 3, 31, 0)
        );
        // Early in January, the period began in December.
        assert_eq!(period_start(at(2026, 1, 3, 0), Some(5)), at(2025, 12, 5, 0));
    }
}
