//! The job-marketplace CRM of origin 004: users, their settlements (completed jobs), job
//! posts, a category similarity map and the logs of a reactivation campaign sent on
//! 2023-10-26 to three groups (Control, A, B).
//!
//! Sizes at scale 1: 10,000 users, about 50,000 settlements (about 44,000 before the
//! campaign, the rest up to 2023-11-30), 3,000 job posts, 16 category pairs, about 3,300
//! campaign logs.
//!
//! Planted effects:
//! - Tiers: 30% of users settle once (Light), 40% 2-5 times (Regular), 30% 6-12 times (Power);
//!   Power users settle every 5-18 days, Regular users every 14-45 days.
//! - About 45% of repeat users have lapsed: their last settlement lies 1.6-4 cycles before the
//!   campaign date; the others settled within their cycle and keep settling afterwards.
//! - Campaign: 85% of lapsed repeat users with push on receive it, split evenly over Control,
//!   A and B; 40% of recipients get a second log two days later. A recipient applies (on one log) with
//!   probability 2.5% in Control, 6% in A and 16% in B: B clearly above A, A above Control.
//! - Appliers come back: 85% settle 2-10 days after the campaign, then keep settling with
//!   probability 0.6 per cycle; 5% of other recipients settle once in the following month.
//! - Notification blocking after the campaign: 1.0% of Control recipients, 1.6% of A, 2.0% of
//!   B, 0.5% of everyone else; 4% of users had blocked before the campaign (push off).
//! - There are 17 x scale regions. Job posts concentrate in the big regions (weight
//!   region^-1.5 within each block of 17) and pay 9,620-18,620 per hour,
//!   so a user in a small region or with a high rate may find no post paying 10% more.

use std::path::Path;

use anyhow::Result;
use chrono::{Duration, NaiveDateTime};

use super::gen::{date, opt_ts, scaled, ts, write_csv, Gen};

/// Regions at scale 1; a larger marketplace covers proportionally more (17 x scale), so that
/// users and job posts per region, and so matches per user, stay the same at every scale.
const REGIONS_AT_SCALE_1: f64 = 17.0;
const CATEGORIES: i64 = 16;

struct User {
    id: i64,
    region: i64,
    category: i64,
    push_on: bool,
    blocked_at: Option<NaiveDateTime>,
    cycle: f64,
    lapsed: bool,
    pre_count: usize,
}

struct Settlement {
    user: i64,
    category: i64,
    at: NaiveDateTime,
    rate: i64,
}

/// The category similar to `c`: categories come in pairs (1, 2), (3, 4), ...
fn similar(c: i64) -> i64 {
    if c % 2 == 1 {
        c + 1
    } else {
        c - 1
    }
}

fn round10(x: f64) -> i64 {
    ((x / 10.0).round() * 10.0) as i64
}

/// Writes the five `crm_*.csv` files; returns `(file, rows)` for each.
pub fn write(dir: &Path, scale: f64, seed: u64) -> Result<Vec<(String, usize)>> {
    let mut g = Gen::new(seed);
    let campaign = date(2023, 10, 26).and_hms_opt(0, 0, 0).expect("valid");
    let post_end = date(2023, 11, 30).and_hms_opt(23, 59, 0).expect("valid");
    let n_users = scaled(10_000.0, scale);
    let regions = scaled(REGIONS_AT_SCALE_1, scale) as i64;

    let mut users = Vec::with_capacity(n_users);
    let mut settlements = Vec::new();
    for id in 1..=n_users as i64 {
        let region = g.int(1, regions);
        let category = g.int(1, CATEGORIES);
        let base_rate = 9_620.0 + g.uniform(0.0, 1.0).powi(2) * 8_000.0;
        let tier = g.uniform(0.0, 1.0);
        let count = if tier < 0.3 {
            1
        } else if tier < 0.7 {
            g.int(2, 5) as usize
        } else {
            g.int(6, 12) as usize
        };
        let cycle = match count {
            1 => 30.0,
            2..=5 => g.uniform(14.0, 45.0),
            _ => g.uniform(5.0, 18.0),
        };
        let lapsed = g.chance(0.45);
        let recency_days = if count == 1 {
            g.uniform(5.0, 280.0)
        } else if lapsed {
            cycle * g.uniform(1.6, 4.0)
        } else {
            cycle * g.uniform(0.05, 0.9)
        };
        let settle = |g: &mut Gen, at: NaiveDateTime| Settlement {
            user: id,
            category: if g.chance(0.8) {
                category
            } else {
                similar(category)
            },
            at,
            rate: round10(base_rate * g.uniform(0.95, 1.05)),
        };
        let mut at = campaign - Duration::minutes((recency_days.max(1.0) * 1440.0) as i64);
        let last = at;
        for _ in 0..count {
            settlements.push(settle(&mut g, at));
            at -= Duration::minutes((cycle * g.uniform(0.6, 1.4) * 1440.0).max(1440.0) as i64);
        }
        // Active users keep settling after the campaign date, on their own rhythm.
        if !lapsed && count > 1 {
            let mut next = last + Duration::minutes((cycle * g.uniform(0.6, 1.4) * 1440.0) as i64);
            while next <= post_end {
                if next >= campaign {
                    settlements.push(settle(&mut g, next));
                }
                next += Duration::minutes((cycle * g.uniform(0.6, 1.4) * 1440.0).max(1440.0) as i64);
            }
        }
        let blocked_before = g.chance(0.04);
        let blocked_at =
            blocked_before.then(|| date(2023, 3, 1).and_time(g.time(8, 23)) + Duration::days(g.int(0, 230)));
        users.push(User {
            id,
            region,
            category,
            push_on: !blocked_before && g.chance(0.92),
            blocked_at,
            cycle,
            lapsed: lapsed && count > 1,
            pre_count: count,
        });
    }

    // The campaign, to lapsed users with push on.
    let groups = [("Control", 0.025, 0.010), ("A", 0.06, 0.016), ("B", 0.16, 0.020)];
    let mut logs: Vec<(i64, &str, bool, NaiveDateTime)> = Vec::new();
    for u in users.iter_mut() {
        let recipient = u.lapsed && u.push_on && g.chance(0.85);
        if !recipient {
            if u.blocked_at.is_none() && g.chance(0.005) {
                u.blocked_at = Some(campaign + Duration::minutes(g.int(60, 40 * 1440)));
            }
            continue;
        }
        let (group, apply_p, block_p) = *g.pick(&groups);
        let sent = campaign + Duration::minutes(g.int(9 * 60, 12 * 60));
        let resent = g.chance(0.4).then(|| sent + Duration::days(2));
        let applies = g.chance(apply_p);
        let applied_on_resend = applies && resent.is_some() && g.chance(0.3);
        logs.push((u.id, group, applies && !applied_on_resend, sent));
        if let Some(r) = resent {
            logs.push((u.id, group, applied_on_resend, r));
        }
        if applies {
            let mut at = sent + Duration::minutes(g.int(2 * 1440, 10 * 1440));
            if g.chance(0.85) {
                while at <= post_end {
                    settlements.push(Settlement {
                        user: u.id,
                        category: u.category,
                        at,
                        rate: 0,
                    });
                    if !g.chance(0.6) {
                        break;
                    }
                    at += Duration::minutes((u.cycle * g.uniform(0.6, 1.4) * 1440.0).max(1440.0) as i64);
                }
            }
        } else if g.chance(0.05) {
            let at = sent + Duration::minutes(g.int(1440, 30 * 1440));
            settlements.push(Settlement {
                user: u.id,
                category: u.category,
                at,
                rate: 0,
            });
        }
        if u.blocked_at.is_none() && g.chance(block_p) {
            u.blocked_at = Some(sent + Duration::minutes(g.int(30, 20 * 1440)));
        }
    }

    // Post-campaign settlements of returning users take the rate of their last one.
    settlements.sort_by_key(|s| (s.user, s.at));
    for i in 1..settlements.len() {
        if settlements[i].rate == 0 && settlements[i - 1].user == settlements[i].user {
            settlements[i].rate = settlements[i - 1].rate;
        }
    }
    settlements.sort_by_key(|s| (s.at, s.user));

    let user_rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                u.region.to_string(),
                u.push_on.to_string(),
                u.pre_count.to_string(),
                opt_ts(u.blocked_at),
            ]
        })
        .collect();
    let settlement_rows: Vec<Vec<String>> = settlements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                s.user.to_string(),
                s.category.to_string(),
                ts(s.at),
                s.rate.to_string(),
            ]
        })
        .collect();
    let n_posts = scaled(3_000.0, scale);
    // Posts concentrate in the big regions (weight r^-1.5 within each block of 17), so users in
    // small ones match less.
    let region_weights: Vec<(i64, f64)> = (1..=regions)
        .map(|r| (r, (((r - 1) % 17 + 1) as f64).powf(-1.5)))
        .collect();
    let post_rows: Vec<Vec<String>> = (1..=n_posts)
        .map(|id| {
            let category = g.int(1, CATEGORIES);
            let region = *g.weighted(&region_weights);
            let rate = round10(9_620.0 + g.uniform(0.0, 1.0).powi(2) * 9_000.0);
            let posted = date(2023, 10, 1).and_time(g.time(7, 22)) + Duration::days(g.int(0, 24));
            vec![
                id.to_string(),
                category.to_string(),
                region.to_string(),
                rate.to_string(),
                ts(posted),
            ]
        })
        .collect();
    let map_rows: Vec<Vec<String>> = (1..=CATEGORIES)
        .map(|c| vec![c.to_string(), similar(c).to_string()])
        .collect();
    logs.sort_by_key(|l| (l.3, l.0));
    let log_rows: Vec<Vec<String>> = logs
        .iter()
        .enumerate()
        .map(|(i, (user, group, applied, sent))| {
            vec![
                (i + 1).to_string(),
                user.to_string(),
                group.to_string(),
                u8::from(*applied).to_string(),
                ts(*sent),
            ]
        })
        .collect();
    Ok(vec![
        write_csv(
            dir,
            "crm_users.csv",
            &[
                "user_id",
                "region_id",
                "push_on",
                "total_settle_cnt",
                "notification_blocked_at",
            ],
            &user_rows,
        )?,
        write_csv(
            dir,
            "crm_settlements.csv",
            &[
                "settlement_id",
                "user_id",
                "category_id",
                "settled_at",
                "hourly_rate",
            ],
            &settlement_rows,
        )?,
        write_csv(
            dir,
            "crm_job_posts.csv",
            &["job_id", "category_id", "region_id", "hourly_rate", "posted_at"],
            &post_rows,
        )?,
        write_csv(
            dir,
            "crm_category_map.csv",
            &["original_category", "similar_category"],
            &map_rows,
        )?,
        write_csv(
            dir,
            "crm_campaign_logs.csv",
            &["log_id", "user_id", "ab_group", "is_applied", "sent_at"],
            &log_rows,
        )?,
    ])
}
