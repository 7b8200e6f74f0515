//! `cargo xtask deb`: `target/deb/nat64_<version>_amd64.deb` from the release binary, with
//! `dpkg-deb` (every Debian has it; no packaging tool to build first). The package holds the
//! binary (stripped), `nat64.service`, a commented `/etc/nat64/nat64.toml` (a conffile),
//! the manual page and shell completions generated from the binary's clap definitions, and
//! maintainer scripts that offer `nat64` as the `tayga` alternative.

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::cmd;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the package from `binary` into `out_dir`; returns the .deb's path.
pub fn build(root: &Path, binary: &Path, out_dir: &Path) -> Result<PathBuf> {
    check_changelog(root)?;
    let name = format!("nat64_{VERSION}_amd64");
    let stage = out_dir.join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("clearing {}", stage.display()))?;
    }
    let packaging = root.join("packaging");

    let sbin = stage.join("usr/sbin/nat64");
    install(binary, &sbin, 0o755)?;
    cmd::run(
        Command::new("strip")
            .args([
                "--strip-unneeded",
                "--remove-section=.comment",
                "--remove-section=.note",
            ])
            .arg(&sbin),
    )?;

    install(
        &packaging.join("nat64.service"),
        &stage.join("lib/systemd/system/nat64.service"),
        0o644,
    )?;
    install(
        &packaging.join("nat64.toml"),
        &stage.join("etc/nat64/nat64.toml"),
        0o644,
    )?;
    let doc = stage.join("usr/share/doc/nat64");
    install(
        &packaging.join("debian/copyright"),
        &doc.join("copyright"),
        0o644,
    )?;
    gzip_into(
        &packaging.join("debian/changelog"),
        &doc.join("changelog.gz"),
    )?;

    // Generated from the clap definitions by the binary itself.
    let man = generated(binary, &["manpage"])?;
    let man_plain = out_dir.join("nat64.8");
    write(&man_plain, &man, 0o644)?;
    gzip_into(&man_plain, &stage.join("usr/share/man/man8/nat64.8.gz"))?;
    fs::remove_file(&man_plain)?;
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/nat64"),
        ("zsh", "usr/share/zsh/vendor-completions/_nat64"),
        ("fish", "usr/share/fish/vendor_completions.d/nat64.fish"),
    ] {
        write(
            &stage.join(path),
            &generated(binary, &["completions", shell])?,
            0o644,
        )?;
    }

    let debian = stage.join("DEBIAN");
    for script in ["postinst", "prerm", "postrm"] {
        install(
            &packaging.join("debian").join(script),
            &debian.join(script),
            0o755,
        )?;
    }
    write(&debian.join("conffiles"), b"/etc/nat64/nat64.toml\n", 0o644)?;
    write(&debian.join("md5sums"), md5sums(&stage)?.as_bytes(), 0o644)?;
    let control = fs::read_to_string(packaging.join("debian/control.in"))?
        .replace("@VERSION@", VERSION)
        .replace("@SIZE@", &installed_size_kib(&stage)?.to_string())
        .replace("@DEPENDS@", &depends(&sbin)?);
    write(&debian.join("control"), control.as_bytes(), 0o644)?;

    let deb = out_dir.join(format!("{name}.deb"));
    cmd::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&stage)
            .arg(&deb),
    )?;
    fs::remove_dir_all(&stage)?;
    Ok(deb)
}

/// The package version is the workspace's; the changelog's top entry must say the same.
fn check_changelog(root: &Path) -> Result<()> {
    let path = root.join("packaging/debian/changelog");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let expected = format!("nat64 ({VERSION})");
    if !text.starts_with(&expected) {
        bail!(
            "{}: the top entry must be for {expected} (the workspace version); add one",
            path.display()
        );
    }
    Ok(())
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write(to, &bytes, mode)
}

fn write(to: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(to, bytes).with_context(|| format!("writing {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `gzip -9n` (no name or time stamp: the same input gives the same bytes).
fn gzip_into(from: &Path, to: &Path) -> Result<()> {
    let out = cmd::output(Command::new("gzip").args(["-9n", "-c"]).arg(from))?;
    if !out.status.success() {
        bail!("gzip {} failed", from.display());
    }
    write(to, &out.stdout, 0o644)
}

fn generated(binary: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = cmd::output(Command::new(binary).args(args))?;
    if !out.status.success() {
        bail!(
            "{} {} failed: {}",
            binary.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// Every regular file below `stage` except DEBIAN/, as `md5sum` prints them.
fn md5sums(stage: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(stage, stage, &mut files)?;
    files.sort();
    let mut command = Command::new("md5sum");
    command.current_dir(stage).args(&files);
    let out = cmd::output(&mut command)?;
    if !out.status.success() {
        bail!("md5sum failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let relative = path.strip_prefix(base)?.to_string_lossy().into_owned();
        if relative == "DEBIAN" {
            continue;
        }
        if path.is_dir() {
            collect_files(base, &path, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

fn installed_size_kib(stage: &Path) -> Result<u64> {
    let mut files = Vec::new();
    collect_files(stage, stage, &mut files)?;
    let mut total = 0;
    for file in files {
        total += fs::metadata(stage.join(file))?.len().div_ceil(1024);
    }
    Ok(total)
}

/// The shared libraries the binary links, with the newest glibc symbol version it uses.
fn depends(binary: &Path) -> Result<String> {
    let out = cmd::output(Command::new("objdump").arg("-T").arg(binary))?;
    if !out.status.success() {
        bail!("objdump -T {} failed", binary.display());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let newest = text
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("(GLIBC_").or(word.strip_prefix("GLIBC_")))
        .filter_map(|v| {
            let v = v.trim_end_matches(')');
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((
                parts.next()??,
                parts.next()??,
                parts.next().flatten().unwrap_or(0),
            ))
        })
        .max()
        .unwrap_or((2, 34, 0));
    let glibc = if newest.2 == 0 {
        format!("{}.{}", newest.0, newest.1)
    } else {
        format!("{}.{}.{}", newest.0, newest.1, newest.2)
    };
    let mut depends = format!("libc6 (>= {glibc})");
    if text.contains("GCC_") {
        depends.push_str(", libgcc-s1 (>= 4.2)");
    }
    Ok(depends)
}
