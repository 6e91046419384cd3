//! `seedgen`: the deterministic generator of the example warehouse's synthetic seeds.
//!
//! ```sh
//! bash scripts/generate-seeds            # scale 1 into seeds/ (what is committed)
//! bash scripts/generate-seeds --scale 10 --out /tmp/seeds10
//! ```
//!
//! Three data sets, each from its own fixed-seed ChaCha8 stream (so changing one never
//! changes another), sized by `--scale` (1 = the sizes in `../shared/DOMAIN.md`):
//! - [`crm`]: the job-marketplace CRM tables of origin 004;
//! - [`app`]: the habit app's users and events of origin 003;
//! - [`tickets`]: ticket orders and KZT->RUB rates of origin 001.
//!
//! The effects each one plants, so that the analyses have something to find, are listed in
//! the module's documentation. The CDNOW seed is real data and is not generated.

mod app;
mod crm;
mod gen;
mod tickets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Writes the synthetic seed CSVs of the retention warehouse.
#[derive(Debug, Parser)]
#[command(name = "seedgen")]
struct Args {
    /// Size factor: 1 gives DOMAIN.md's sizes (10,000 CRM users, ...); 10 gives ten times that.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Folder to write the CSV files into.
    #[arg(long, default_value = "seeds")]
    out: PathBuf,
    /// Base random seed; each data set derives its own stream from it.
    #[arg(long, default_value_t = 20231026)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.scale > 0.0 && args.scale <= 1000.0) {
        eprintln!(
            "error: --scale must be above 0 and at most 1000 (got {})",
            args.scale
        );
        return ExitCode::from(2);
    }
    let run = || -> anyhow::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        let crm = crm::write(&args.out, args.scale, args.seed)?;
        let app = app::write(&args.out, args.scale, args.seed + 1)?;
        let tickets = tickets::write(&args.out, args.scale, args.seed + 2)?;
        for (file, rows) in crm.into_iter().chain(app).chain(tickets) {
            println!("{:>9} rows  {}", rows, args.out.join(file).display());
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
