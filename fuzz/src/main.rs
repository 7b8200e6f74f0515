//! `nat64-fuzz --target <name|all> --secs N [--seed S] [--inputs N]`: one summary line per
//! target; exit status 1 on any crash, disagreement or refused source given a pool address.
//! `--setup NAME --replay HEX` runs one input again, as a failure report prints it.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use nat64_fuzz::runner::{self, Budget};
use nat64_fuzz::targets::{self, Made};
use nat64_fuzz::{hex, report::Report};

#[derive(Parser)]
#[command(
    about = "Structure-aware fuzzing of nat64's translator, configuration readers, dynamic.map reader and kernel programs"
)]
struct Cli {
    /// translator, config, dynamic_map, stateful, kernel_tc, kernel_xdp, kernel_stateful_tc,
    /// kernel_stateful_xdp, or all.
    #[arg(long, default_value = "all")]
    target: String,
    /// Seconds per target (default 10 when --inputs is not given either).
    #[arg(long)]
    secs: Option<u64>,
    /// Inputs per target; with --secs, whichever ends first.
    #[arg(long)]
    inputs: Option<u64>,
    /// The run's seed (default: from the clock); printed in every summary line.
    #[arg(long)]
    seed: Option<u64>,
    /// With --replay: the setup the input ran under, as the failure report names it.
    #[arg(long, requires = "replay")]
    setup: Option<String>,
    /// Runs this one input (hex, as a failure report prints it) and prints what it found.
    #[arg(long, requires = "setup")]
    replay: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("nat64-fuzz: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether every target passed.
fn run(cli: &Cli) -> anyhow::Result<bool> {
    let names: Vec<&str> = if cli.target == "all" {
        targets::NAMES.to_vec()
    } else {
        vec![cli.target.as_str()]
    };
    if let (Some(setup), Some(input)) = (&cli.setup, &cli.replay) {
        let input = hex::decode(input).map_err(|e| anyhow::anyhow!("--replay: {e}"))?;
        return replay(names.first().copied().unwrap_or_default(), setup, &input);
    }
    let seed = cli.seed.unwrap_or_else(clock_seed);
    let budget = Budget {
        time: match (cli.secs, cli.inputs) {
            (None, None) => Some(Duration::from_secs(10)),
            (secs, _) => secs.map(Duration::from_secs),
        },
        inputs: cli.inputs,
    };
    let require_root = std::env::var_os("NAT64_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1");
    let mut all_passed = true;
    for name in names {
        let mut target = match targets::make(name)? {
            Made::Ready(target) => target,
            Made::Skipped(why) if require_root => {
                println!("{why} (NAT64_REQUIRE_ROOT_TESTS=1)");
                all_passed = false;
                continue;
            }
            Made::Skipped(why) => {
                println!("{why}");
                continue;
            }
        };
        eprintln!("fuzz {name}: running (seed {seed})");
        let report = runner::run(target.as_mut(), seed, budget)?;
        print(&report);
        all_passed &= !report.failed();
    }
    Ok(all_passed)
}

fn print(report: &Report) {
    for example in report.examples() {
        println!("{example}");
    }
    println!("{}", report.summary());
    println!("{}", report.outcome_line());
}

fn replay(name: &str, setup: &str, input: &[u8]) -> anyhow::Result<bool> {
    let mut target = match targets::make(name)? {
        Made::Ready(target) => target,
        Made::Skipped(why) => anyhow::bail!("{why}"),
    };
    let checked = runner::replay(target.as_mut(), setup, input)?;
    println!("replay {name} (setup {setup}): {}", checked.outcome);
    for f in &checked.findings {
        println!("  {:?}: {}", f.kind, f.detail);
    }
    for line in target.explain() {
        println!("  {line}");
    }
    Ok(checked.findings.is_empty())
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
