//! `nat64 doctor`: looks at the host before a start and says, line by line, what is fine,
//! what will limit the gateway, and what to fix. It changes nothing on the host.

mod container;
mod kernel;
mod network;
mod peers;
mod tun_device;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Something to know (not a problem).
    Info,
    /// Works, but slower or less than it could, or needs attention.
    Warn,
    /// Blocks a start (or the datapath named in the line).
    Fail,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier: "container", "tun", "bpf", "bpffs", "forwarding", ...
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about it, when anything.
    pub fix: Option<String>,
}

impl Check {
    fn new(check: &str, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            verdict,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole report; its JSON form is what `nat64 doctor --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub checks: Vec<Check>,
    /// The datapath `--datapath auto` would run here: "tc", "tun", or "none".
    pub datapath: String,
    /// True when nothing blocks a start.
    pub ready: bool,
}

/// Runs every check for `config` with XDP on `interfaces`.
pub fn run(config: &Config, interfaces: &[String]) -> Report {
    let mut checks = Vec::new();
    let place = container::detect();
    checks.push(place.check());
    let tun = tun_device::check();
    let tun_ok = tun.verdict != Verdict::Fail;
    checks.push(tun);
    checks.push(kernel::capabilities());
    let bpf = kernel::bpf(&place);
    let bpf_ok = bpf.verdict == Verdict::Ok;
    checks.push(bpf);
    checks.push(kernel::lockdown());
    if bpf_ok {
        checks.push(kernel::bpffs(&config.pin_dir));
    }
    checks.extend(network::forwarding());
    checks.extend(network::rp_filter(interfaces));
    checks.extend(network::routes(config));
    checks.push(network::uplink_mtu(config.egress.as_deref()));
    for interface in interfaces {
        checks.push(network::xdp(interface, bpf_ok));
    }
    checks.extend(peers::check(&config.tun_device));
    let datapath = match (tun_ok, bpf_ok) {
        (false, _) => "none",
        (true, true) => "tc",
        (true, false) => "tun",
    };
    let ready = !checks
        .iter()
        .any(|c| c.verdict == Verdict::Fail && c.check != "bpf")
        && tun_ok;
    Report {
        schema: super::snapshot::SCHEMA,
        checks,
        datapath: datapath.to_owned(),
        ready,
    }
}

/// The report as lines an operator reads.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{:<5} {:<12} {}",
            check.verdict.word(),
            check.check,
            check.detail
        );
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "{:<5} {:<12} fix: {fix}", "", "");
        }
    }
    let summary = match (report.ready, report.datapath.as_str()) {
        (true, "tc") => "ready: `nat64 run` would translate in the kernel (TC, and XDP on --iface)".to_owned(),
        (true, "tun") => "ready for the TUN datapath only: `nat64 run` would translate in userspace (see bpf above)".to_owned(),
        _ => format!(
            "not ready: fix the FAIL lines above ({} of them)",
            report
                .checks
                .iter()
                .filter(|c| c.verdict == Verdict::Fail)
                .count()
        ),
    };
    let _ = writeln!(out, "\n{summary}");
    out
}
