//! CPU time charged to forwarding: the gateway process's user+system time
//! (`/proc/<pid>/stat`, all threads) plus softirq time of every CPU (`/proc/stat`), where the
//! kernel does veth receive, routing, netfilter and TUN work.

use anyhow::{Context, Result};

#[derive(Clone, Copy, Debug)]
pub struct CpuSnapshot {
    softirq_ticks: u64,
    process_ticks: u64,
}

impl CpuSnapshot {
    pub fn take(gateway_pid: Option<u32>) -> Result<Self> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let cpu_line = stat.lines().next().context("empty /proc/stat")?;
        // cpu user nice system idle iowait irq softirq ...
        let softirq_ticks = cpu_line
            .split_whitespace()
            .nth(7)
            .context("no softirq column in /proc/stat")?
            .parse()?;
        let process_ticks = match gateway_pid {
            Some(pid) => process_ticks(pid)?,
            None => 0,
        };
        Ok(Self {
            softirq_ticks,
            process_ticks,
        })
    }

    /// Seconds of gateway CPU between `self` and `later`.
    pub fn seconds_until(&self, later: &CpuSnapshot) -> f64 {
        let ticks = (later.softirq_ticks - self.softirq_ticks)
            + later.process_ticks.saturating_sub(self.process_ticks);
        ticks as f64 / ticks_per_second()
    }
}

fn process_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')').context("malformed /proc/<pid>/stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field (3).
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}
