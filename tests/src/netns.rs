//! A network-namespace test bed: uniquely named namespaces joined by veth pairs, torn down
//! when dropped — also when the test panics — together with every process started in them.

use std::{
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use anyhow::{bail, Context, Result};

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// One network namespace, removed (with its processes) on drop.
pub struct Netns {
    name: String,
    children: Vec<Child>,
    /// Output files of the children, in the same order (a pipe nobody reads would stall a
    /// chatty daemon).
    logs: Vec<std::path::PathBuf>,
}

impl Netns {
    /// Creates `nat64-<role>-<pid>-<n>`: unique across parallel tests and concurrent runs.
    pub fn new(role: &str) -> Result<Self> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let name = format!("n64-{role}-{}-{id}", std::process::id());
        run_checked(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Self {
            name,
            children: Vec::new(),
            logs: Vec::new(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `argv` inside the namespace; a non-zero exit is an error carrying its stderr.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        let (program, args) = argv.split_first().context("empty command")?;
        run_checked(self.command(program).args(args))
    }

    /// Starts `argv` in the background inside the namespace, its output going to a log file;
    /// killed when the namespace goes.
    pub fn spawn(&mut self, argv: &[&str]) -> Result<&mut Child> {
        let (program, args) = argv.split_first().context("empty command")?;
        let log = std::env::temp_dir().join(format!("{}-{}.log", self.name, self.children.len()));
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {argv:?} in {}", self.name))?;
        self.children.push(child);
        self.logs.push(log);
        self.children
            .last_mut()
            .context("the child just pushed is there")
    }

    /// The most recently started background process.
    pub fn last_child(&mut self) -> Option<&mut Child> {
        self.children.last_mut()
    }

    /// Its exit status, if it has exited.
    pub fn last_child_exit(&mut self) -> Result<Option<std::process::ExitStatus>> {
        match self.children.last_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }

    /// What it has printed so far.
    pub fn last_child_output(&self) -> String {
        self.logs
            .last()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    /// Runs `body` on a thread of its own that has entered this namespace (a network
    /// namespace is per thread), so library code — netlink sockets, child processes — acts
    /// inside it without touching the test runner's namespace.
    pub fn run_inside<T: Send + 'static>(
        &self,
        body: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let path = format!("/run/netns/{}", self.name);
        let thread = std::thread::spawn(move || -> Result<T> {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            // SAFETY: setns on a namespace file descriptor we own; it affects this thread only.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            if rc != 0 {
                bail!("setns {path}: {}", std::io::Error::last_os_error());
            }
            body()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Joins this namespace to `peer` with a veth pair named `here`/`there`.
    pub fn link(&self, here: &str, peer: &Netns, there: &str) -> Result<()> {
        run_checked(Command::new("ip").args([
            "link", "add", here, "netns", &self.name, "type", "veth", "peer", "name", there,
            "netns", &peer.name,
        ]))?;
        self.exec(&["ip", "link", "set", here, "up"])?;
        peer.exec(&["ip", "link", "set", there, "up"])?;
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Anything else still running in the namespace (a daemon that forked) goes too.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        for log in &self.logs {
            let _ = std::fs::remove_file(log);
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a command; a non-zero exit becomes an error with the command line and its stderr.
pub fn run_checked(command: &mut Command) -> Result<Output> {
    let out = command
        .output()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}
