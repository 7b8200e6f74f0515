//! Configuration problems, each naming the file, the line and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem (or warning) in a configuration file.
///
/// Displays as `file:line: message; fix`, e.g.
/// `tayga.conf:7: prefix 2001:db8::/33: RFC 6052 allows /32, /40, /48, /56, /64 or /96; write e.g. "prefix 64:ff9b::/96"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: PathBuf,
    /// 1-based line; `None` for problems of the file as a whole (a missing directive).
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to write instead, when there is something useful to say.
    pub fix: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "; {fix}")?;
        }
        Ok(())
    }
}

/// A configuration that was refused: every problem found, in line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Diagnostic>,
}

impl ConfigError {
    /// A problem of the file as a whole (unreadable, empty).
    pub fn whole_file(file: &Path, message: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            problems: vec![Diagnostic {
                file: file.to_path_buf(),
                line: None,
                message: message.into(),
                fix,
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects errors and warnings while a file is read, so the user sees all of
/// them at once instead of fixing one per run.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    file: PathBuf,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn make(&self, line: usize, message: String, fix: Option<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: (line > 0).then_some(line),
            message,
            fix,
        }
    }

    /// `line` 0 means "the file as a whole".
    pub(crate) fn error(&mut self, line: usize, message: impl Into<String>, fix: Option<String>) {
        let d = self.make(line, message.into(), fix);
        self.errors.push(d);
    }

    pub(crate) fn warn(&mut self, line: usize, message: impl Into<String>, fix: Option<String>) {
        let d = self.make(line, message.into(), fix);
        self.warnings.push(d);
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Errors and warnings alike, sorted by line (whole-file ones last): for a file whose
    /// problems are skipped rather than refused.
    pub(crate) fn into_all(self) -> Vec<Diagnostic> {
        let mut all = self.errors;
        all.extend(self.warnings);
        all.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
        all
    }

    /// The warnings, or every error sorted by line (whole-file problems last).
    pub(crate) fn finish(self) -> Result<Vec<Diagnostic>, ConfigError> {
        if self.errors.is_empty() {
            return Ok(self.warnings);
        }
        let mut problems = self.errors;
        problems.sort_by_key(|d| d.line.unwrap_or(usize::MAX));
        Err(ConfigError { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_message_fix() {
        let mut d = Diagnostics::new(Path::new("tayga.conf"));
        d.error(
            0,
            "no ipv4-addr directive",
            Some("write e.g. \"ipv4-addr 192.0.2.1\"".into()),
        );
        d.error(7, "bad", None);
        let e = d.finish().unwrap_err();
        assert_eq!(
            e.to_string(),
            "tayga.conf:7: bad\ntayga.conf: no ipv4-addr directive; write e.g. \"ipv4-addr 192.0.2.1\""
        );
    }
}
