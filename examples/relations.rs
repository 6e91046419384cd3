//! Prints what a DuckDB file holds, in the forms the tests compare (`tests/common/relations.rs`):
//! `scripts/dbt_parity` runs it on the databases dbt builds, so that dbt's side and Mallard's
//! are read by the same code as `tests/parity.rs` and `tests/realworld.rs` read them.
//!
//! ```text
//! relations dump DB [--rounded]       the parity form (expected/step-N.txt); --rounded: floats
//!                                     to 6 significant digits
//! relations digest DB [--columns-only NAME...] [--column-order-free NAME...]
//!                                     the digest form (tests/realworld/*/expected/step-N.txt)
//! ```

#[allow(dead_code)]
#[path = "../tests/common/relations.rs"]
mod relations;

use std::path::Path;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: relations dump DB [--rounded] | relations digest DB [--columns-only NAME...] [--column-order-free NAME...]";
    let (Some(command), Some(db)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    let conn = relations::open_read_only(Path::new(db));
    match command.as_str() {
        "dump" => {
            let floats = if args[2..].iter().any(|a| a == "--rounded") {
                relations::Floats::Rounded
            } else {
                relations::Floats::Exact
            };
            print!("{}", relations::dump(&conn, floats));
        }
        "digest" => {
            let (mut columns_only, mut order_free) = (Vec::new(), Vec::new());
            let mut list: Option<&mut Vec<String>> = None;
            for a in &args[2..] {
                match a.as_str() {
                    "--columns-only" => list = Some(&mut columns_only),
                    "--column-order-free" => list = Some(&mut order_free),
                    name => match list.as_deref_mut() {
                        Some(l) => l.push(name.to_string()),
                        None => return Err(usage.into()),
                    },
                }
            }
            for line in relations::digest(&conn, &columns_only, &order_free) {
                println!("{line}");
            }
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
