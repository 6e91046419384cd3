//! The habit app of origin 003: users with their subscription history, and their events
//! (`session_start`, `feature_used` with a feature, `habit_completed`, `ai_coach_message`,
//! `streak_broken`) from 2024-01-01 to the as-of date 2024-03-31.
//!
//! Size at scale 1: 1,000 users, about 70,000 events.
//!
//! Planted behaviour types (origin 003's segments), by share of users:
//! - enthusiast (15%): active on 85% of days, uses 5-6 of the 6 features, talks to the AI
//!   coach; 80% start a trial, 60% of those pay, renewals go on with probability 0.9;
//! - quiet (35%): active on 25% of days with 1-2 features; 20% trial, 30% of those pay;
//! - test driver (25%): active on 85% of the first week, 30% of the second, 6% after;
//!   45% trial in the first days, 15% of those pay and then hardly use the app (dead payers);
//!   early streaks break;
//! - returned (10%): active for the first 10 days, silent for 8-20 days, back at 50%;
//! - new (everyone who joined in the last 7 days): active on 80% of days.
//!
//! Joining days are uniform over the quarter, so later cohorts have not reached D30.

use std::path::Path;

use anyhow::Result;
use chrono::{Duration, NaiveDateTime, Timelike};

use super::gen::{date, opt_ts, scaled, ts, write_csv, Gen};

const FEATURES: [&str; 6] = ["journal", "habits", "goals", "ai_chat", "planning", "ssp"];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Enthusiast,
    Quiet,
    TestDriver,
    Returned,
    New,
}

/// Writes `app_users.csv` and `app_events.csv`; returns `(file, rows)` for each.
pub fn write(dir: &Path, scale: f64, seed: u64) -> Result<Vec<(String, usize)>> {
    let mut g = Gen::new(seed);
    let start = date(2024, 1, 1);
    let as_of = date(2024, 3, 31);
    let days_in_window = (as_of - start).num_days();
    let n_users = scaled(1_000.0, scale);
    let mut user_rows = Vec::with_capacity(n_users);
    let mut events: Vec<(NaiveDateTime, i64, &str, &str)> = Vec::new();

    for id in 1..=n_users as i64 {
        let joined_day = start + Duration::days(g.int(0, days_in_window));
        let joined = joined_day.and_time(g.time(7, 22));
        let kind = if (as_of - joined_day).num_days() < 7 {
            Kind::New
        } else {
            *g.weighted(&[
                (Kind::Enthusiast, 0.15),
                (Kind::Quiet, 0.35),
                (Kind::TestDriver, 0.25),
                (Kind::Returned, 0.10),
            ])
        };
        let n_features = match kind {
            Kind::Enthusiast => g.int(5, 6),
            Kind::Quiet => g.int(1, 2),
            Kind::TestDriver | Kind::New => g.int(2, 4),
            Kind::Returned => g.int(2, 3),
        } as usize;
        let mut features: Vec<&str> = FEATURES.to_vec();
        // A partial Fisher-Yates shuffle picks this user's features.
        for i in 0..n_features {
            let j = g.int(i as i64, FEATURES.len() as i64 - 1) as usize;
            features.swap(i, j);
        }
        features.truncate(n_features);
        let gap_start = g.int(8, 12);
        let gap_len = g.int(8, 20);

        let mut streak = 0;
        let mut day = joined_day;
        while day <= as_of {
            let lifecycle = (day - joined_day).num_days();
            let p_active = match kind {
                Kind::Enthusiast => 0.85,
                Kind::Quiet => 0.25,
                Kind::New => 0.8,
                Kind::TestDriver => match lifecycle {
                    0..=6 => 0.85,
                    7..=13 => 0.3,
                    _ => 0.06,
                },
                Kind::Returned => {
                    if lifecycle < gap_start {
                        0.7
                    } else if lifecycle < gap_start + gap_len {
                        0.0
                    } else {
                        0.5
                    }
                }
            };
            // Everyone opens the app on the day they join.
            let active = lifecycle == 0 || g.chance(p_active);
            if active {
                // On the day they join, nothing happens before they join.
                let first_hour = if lifecycle == 0 {
                    joined.time().hour() + 1
                } else {
                    7
                };
                let at = |g: &mut Gen| day.and_time(g.time(first_hour.min(22), 23));
                let t = at(&mut g);
                events.push((t, id, "session_start", ""));
                if g.chance(0.25) {
                    let t = at(&mut g);
                    events.push((t, id, "session_start", ""));
                }
                for _ in 0..g.int(1, 2) {
                    let f = *g.pick(&features);
                    let t = at(&mut g);
                    events.push((t, id, "feature_used", f));
                }
                let habits = if kind == Kind::Enthusiast {
                    g.int(1, 3)
                } else {
                    g.int(0, 2)
                };
                for _ in 0..habits {
                    let t = at(&mut g);
                    events.push((t, id, "habit_completed", ""));
                }
                streak = if habits > 0 { streak + 1 } else { 0 };
                let p_ai = if kind == Kind::Enthusiast { 0.5 } else { 0.08 };
                if g.chance(p_ai) {
                    let t = at(&mut g);
                    events.push((t, id, "ai_coach_message", ""));
                }
            } else if streak >= 2 {
                // The app notices a broken streak just after midnight of the missed day.
                events.push((day.and_hms_opt(0, 5, 0).expect("valid"), id, "streak_broken", ""));
                streak = 0;
            } else {
                streak = 0;
            }
            day += Duration::days(1);
        }

        let (p_trial, p_pay, p_renew) = match kind {
            Kind::Enthusiast => (0.8, 0.6, 0.9),
            Kind::Quiet => (0.2, 0.3, 0.7),
            Kind::TestDriver => (0.45, 0.15, 0.7),
            Kind::Returned => (0.3, 0.2, 0.6),
            Kind::New => (0.3, 0.3, 0.6),
        };
        let mut row = vec![id.to_string(), ts(joined)];
        if g.chance(p_trial) {
            let trial_start = joined + Duration::days(g.int(0, 4)) + Duration::hours(g.int(0, 3));
            let trial_end = trial_start + Duration::days(7);
            let pays = g.chance(p_pay) && trial_end.date() <= as_of;
            let (status, paid_at, renewals) = if trial_start.date() > as_of {
                ("free", None, 0)
            } else if trial_end.date() > as_of {
                ("trial", None, 0)
            } else if pays {
                let mut renewals = 0;
                let mut next = trial_end + Duration::days(30);
                let mut lapsed = false;
                while next.date() <= as_of {
                    if g.chance(p_renew) {
                        renewals += 1;
                        next += Duration::days(30);
                    } else {
                        lapsed = true;
                        break;
                    }
                }
                (if lapsed { "expired" } else { "paid" }, Some(trial_end), renewals)
            } else {
                ("expired", None, 0)
            };
            let (ts_start, ts_end) = if status == "free" {
                (None, None)
            } else {
                (Some(trial_start), Some(trial_end))
            };
            row.extend([
                status.to_string(),
                opt_ts(ts_start),
                opt_ts(ts_end),
                opt_ts(paid_at),
                renewals.to_string(),
            ]);
        } else {
            row.extend([
                "free".to_string(),
                String::new(),
                String::new(),
                String::new(),
                "0".to_string(),
            ]);
        }
        user_rows.push(row);
    }

    events.sort();
    let event_rows: Vec<Vec<String>> = events
        .iter()
        .map(|(t, user, kind, feature)| vec![user.to_string(), kind.to_string(), feature.to_string(), ts(*t)])
        .collect();
    Ok(vec![
        write_csv(
            dir,
            "app_users.csv",
            &[
                "user_id",
                "joined_at",
                "subscription_status",
                "trial_started_at",
                "trial_ends_at",
                "paid_at",
                "renewals",
            ],
            &user_rows,
        )?,
        write_csv(
            dir,
            "app_events.csv",
            &["user_id", "event_type", "feature", "occurred_at"],
            &event_rows,
        )?,
    ])
}
