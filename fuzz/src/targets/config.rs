//! `config`: the configuration readers (`config::parse_str` for `tayga.conf` and TOML, and
//! `map_file::apply` against each setup's configuration) over generated and mutated text.

use std::path::Path;

use nat64::config::{map_file, parse_str, Config, Format};
use rand::rngs::StdRng;

use crate::check::config_rules;
use crate::gen::config_text::{self, ConfigKind};
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};
use crate::setups::Setup;

pub struct ConfigTarget {
    /// (name, kind, the configuration a map-file is applied against and values come from).
    cases: Vec<(String, ConfigKind, Config)>,
}

impl ConfigTarget {
    pub fn new(setups: &[Setup]) -> ConfigTarget {
        let mut cases = Vec::new();
        if let Some(base) = setups.get(1).or(setups.first()) {
            cases.push((
                "tayga.conf".to_string(),
                ConfigKind::TaygaConf,
                base.config.clone(),
            ));
            cases.push(("toml".to_string(), ConfigKind::Toml, base.config.clone()));
        }
        for s in setups {
            cases.push((
                format!("map-file@{}", s.name),
                ConfigKind::MapFile,
                s.config.clone(),
            ));
        }
        ConfigTarget { cases }
    }
}

impl Target for ConfigTarget {
    fn name(&self) -> &'static str {
        "config"
    }

    fn setups(&self) -> Vec<String> {
        self.cases.iter().map(|(name, _, _)| name.clone()).collect()
    }

    fn select(&mut self, _setup: usize) -> anyhow::Result<()> {
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        match self.cases.get(setup) {
            Some((_, kind, base)) => config_text::text(rng, *kind, base),
            None => Vec::new(),
        }
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        let Some((_, kind, base)) = self.cases.get(setup) else {
            return Checked::default();
        };
        let text = String::from_utf8_lossy(input);
        let result = match kind {
            ConfigKind::TaygaConf => check_config(&text, Format::TaygaConf),
            ConfigKind::Toml => check_config(&text, Format::Toml),
            ConfigKind::MapFile => check_map_file(&text, base),
        };
        match result {
            Ok((outcome, problems)) => Checked {
                findings: problems.into_iter().map(Finding::disagreement).collect(),
                outcome,
                not_run: false,
                notes: Vec::new(),
            },
            Err(panic) => Checked::crashed(panic),
        }
    }
}

/// The outcome's name and the rules broken, or the panic.
type Result = std::result::Result<(String, Vec<String>), String>;

fn check_config(text: &str, format: Format) -> Result {
    let name = match format {
        Format::TaygaConf => "tayga.conf",
        Format::Toml => "nat64.toml",
    };
    guarded(|| match parse_str(text, Path::new(name), format) {
        Ok(config) => {
            let mut problems = config_rules::unlocated(text, &config.warnings);
            problems.extend(config_rules::runnable(&config));
            let outcome = if config.warnings.is_empty() {
                "accepted"
            } else {
                "accepted with warnings"
            };
            (outcome.to_string(), problems)
        }
        Err(e) => (
            "refused".to_string(),
            config_rules::unlocated(text, &e.problems),
        ),
    })
}

fn check_map_file(text: &str, base: &Config) -> Result {
    guarded(|| {
        let applied = map_file::apply(base, text, Path::new("static.map"));
        let problems = config_rules::applied_map_file(base, text, &applied);
        let outcome = match applied.maps.len() {
            0 => "map-file: no map kept",
            1 => "map-file: 1 map kept",
            _ => "map-file: maps kept",
        };
        (outcome.to_string(), problems)
    })
}
