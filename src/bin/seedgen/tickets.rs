//! The ticket service of origin 001: orders from 2024-06-01 to 2024-10-31 in roubles, or in
//! tenge for the Kazakh regions, and the daily rate of 100 tenge in roubles.
//!
//! Size at scale 1: 4,000 users, about 12,000 orders, 153 daily rates.
//!
//! Planted effects:
//! - About 60% of users order again (origin 001's finding); the chance is higher when the
//!   first order was for a concert (+10 points), in Moscow or Saint Petersburg (+8) or from a
//!   phone (+4); about a fifth reach 5 orders.
//! - Users who come back often come back fast: 5+ order users wait 2-12 days between
//!   orders, others 3-40.
//! - 0.3% of orders are outliers, 20-60 times the usual revenue, for the 99th-percentile cut.
//! - Orders in Almaty and Astana are in KZT (`currency_code = kzt`), priced at the day's rate.

use std::path::Path;

use anyhow::Result;
use chrono::Duration;

use super::gen::{date, money, scaled, ts, write_csv, Gen};

const REGIONS: &[(&str, &[&str], f64, &str)] = &[
    ("Moscow", &["Moscow"], 0.28, "rub"),
    ("Saint Petersburg", &["Saint Petersburg"], 0.15, "rub"),
    (
        "Sverdlovsk Oblast",
        &["Yekaterinburg", "Nizhny Tagil"],
        0.11,
        "rub",
    ),
    ("Novosibirsk Oblast", &["Novosibirsk"], 0.09, "rub"),
    ("Tatarstan", &["Kazan", "Naberezhnye Chelny"], 0.10, "rub"),
    ("Krasnodar Krai", &["Krasnodar", "Sochi"], 0.12, "rub"),
    ("Almaty Region", &["Almaty"], 0.10, "kzt"),
    ("Astana", &["Astana"], 0.05, "kzt"),
];
const EVENT_TYPES: &[(&str, f64, f64, f64)] = &[
    // (type, weight, lowest and highest price of a ticket in RUB)
    ("concert", 0.45, 1_000.0, 8_000.0),
    ("theatre", 0.22, 1_500.0, 6_000.0),
    ("other", 0.12, 500.0, 3_000.0),
    ("stand-up", 0.08, 1_200.0, 5_000.0),
    ("sport", 0.07, 800.0, 6_000.0),
    ("exhibition", 0.06, 400.0, 1_500.0),
];
const SERVICES: &[(&str, f64)] = &[
    ("Ticket Easy", 0.35),
    ("Catch a Ticket", 0.25),
    ("My Ticket", 0.2),
    ("Show Pass", 0.12),
    ("Box Office", 0.08),
];

/// Writes `ticket_orders.csv` and `fx_rates.csv`; returns `(file, rows)` for each.
pub fn write(dir: &Path, scale: f64, seed: u64) -> Result<Vec<(String, usize)>> {
    let mut g = Gen::new(seed);
    let first_day = date(2024, 6, 1);
    let last_day = date(2024, 10, 31);
    let days = (last_day - first_day).num_days();

    // RUB per 100 KZT, a gentle random walk.
    let mut rates = Vec::with_capacity(days as usize + 1);
    let mut curs: f64 = 18.90;
    for d in 0..=days {
        rates.push((first_day + Duration::days(d), curs));
        curs = (curs + g.uniform(-0.06, 0.06)).clamp(17.5, 20.5);
    }

    let n_users = scaled(4_000.0, scale);
    let mut orders = Vec::new();
    for user in 1..=n_users as i64 {
        let region_weights: Vec<(usize, f64)> = REGIONS.iter().enumerate().map(|(i, r)| (i, r.2)).collect();
        let region = REGIONS[*g.weighted(&region_weights)];
        let mobile = g.chance(0.75);
        let event_weights: Vec<(usize, f64)> =
            EVENT_TYPES.iter().enumerate().map(|(i, e)| (i, e.1)).collect();
        let first_event = *g.weighted(&event_weights);
        let service = *g.weighted(SERVICES);

        let mut p_repeat = 0.50;
        if EVENT_TYPES[first_event].0 == "concert" {
            p_repeat += 0.10;
        }
        if region.0 == "Moscow" || region.0 == "Saint Petersburg" {
            p_repeat += 0.08;
        }
        if mobile {
            p_repeat += 0.04;
        }
        let total = if g.chance(p_repeat) {
            // 2 or more: each further order with probability 0.72, capped at 40.
            let mut n = 2;
            while n < 40 && g.chance(0.72) {
                n += 1;
            }
            n
        } else {
            1
        };
        let mut at = first_day.and_time(g.time(8, 23)) + Duration::days(g.int(0, days - 14));
        for k in 0..total {
            if at.date() > last_day {
                break;
            }
            let event = if k == 0 || g.chance(0.6) {
                first_event
            } else {
                *g.weighted(&event_weights)
            };
            let (event_name, _, lo, hi) = EVENT_TYPES[event];
            let tickets = *g.weighted(&[(1, 0.45), (2, 0.35), (3, 0.12), (4, 0.08)]);
            let mut revenue_rub = f64::from(tickets) * g.uniform(lo, hi);
            if g.chance(0.003) {
                revenue_rub *= g.uniform(20.0, 60.0);
            }
            let (currency, revenue) = if region.3 == "kzt" {
                let day_rate = rates[(at.date() - first_day).num_days() as usize].1;
                ("kzt", revenue_rub * 100.0 / day_rate)
            } else {
                ("rub", revenue_rub)
            };
            let device = if k == 0 || g.chance(0.8) { mobile } else { !mobile };
            let this_service = if k == 0 || g.chance(0.7) {
                service
            } else {
                *g.weighted(SERVICES)
            };
            orders.push((
                at,
                user,
                if device { "mobile" } else { "desktop" },
                money(revenue),
                currency,
                tickets,
                event_name,
                region.0,
                *g.pick(region.1),
                this_service,
            ));
            let gap = if total >= 5 { g.int(2, 12) } else { g.int(3, 40) };
            at += Duration::days(gap) + Duration::minutes(g.int(-300, 300));
        }
    }
    orders.sort_by_key(|o| (o.0, o.1));
    let order_rows: Vec<Vec<String>> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            vec![
                (i + 1).to_string(),
                o.1.to_string(),
                ts(o.0),
                o.2.to_string(),
                o.3.clone(),
                o.4.to_string(),
                o.5.to_string(),
                o.6.to_string(),
                o.7.to_string(),
                o.8.to_string(),
                o.9.to_string(),
            ]
        })
        .collect();
    let rate_rows: Vec<Vec<String>> = rates
        .iter()
        .map(|(d, c)| vec![d.to_string(), "100".to_string(), format!("{c:.4}")])
        .collect();
    Ok(vec![
        write_csv(
            dir,
            "ticket_orders.csv",
            &[
                "order_id",
                "user_id",
                "order_ts",
                "device_type_canonical",
                "revenue",
                "currency_code",
                "tickets_count",
                "event_type_main",
                "region_name",
                "city_name",
                "service_name",
            ],
            &order_rows,
        )?,
        write_csv(dir, "fx_rates.csv", &["rate_date", "nominal", "curs"], &rate_rows)?,
    ])
}
