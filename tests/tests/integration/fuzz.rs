//! Short runs of the fuzz targets that need no privileges (`fuzz/`): they run, reach deep,
//! and the inputs they are given are the inputs a seed names.

use nat64_fuzz::runner::{self, Budget, Target};
use nat64_fuzz::targets::{self, Made};

fn target(name: &str) -> Box<dyn Target> {
    match targets::make(name).unwrap() {
        Made::Ready(t) => t,
        Made::Skipped(why) => panic!("{why}"),
    }
}

fn inputs(n: u64) -> Budget {
    Budget {
        time: None,
        inputs: Some(n),
    }
}

#[test]
fn the_translator_target_reaches_translation_and_the_pool() {
    let mut t = target("translator");
    let report = runner::run(t.as_mut(), 1, inputs(3000)).unwrap();
    assert_eq!(report.inputs, 3000);
    assert_eq!(report.crashes, 0, "{:#?}", report.examples());
    assert!(
        report.share("translated tcp") > 0.02,
        "{}",
        report.outcome_line()
    );
    assert!(
        report.share("translated icmp error") > 0.0,
        "{}",
        report.outcome_line()
    );
    assert!(
        report.share("(a pool address asked for)") > 0.01,
        "{}",
        report.outcome_line()
    );
    assert!(
        report.share("local_reply") > 0.0,
        "{}",
        report.outcome_line()
    );
}

#[test]
fn the_config_and_dynamic_map_targets_accept_and_load() {
    let mut config = target("config");
    let report = runner::run(config.as_mut(), 2, inputs(2000)).unwrap();
    assert_eq!(report.crashes, 0, "{:#?}", report.examples());
    assert!(report.share("accepted") > 0.0, "{}", report.outcome_line());
    assert!(report.share("refused") > 0.0, "{}", report.outcome_line());

    let mut dynamic_map = target("dynamic_map");
    let report = runner::run(dynamic_map.as_mut(), 3, inputs(1000)).unwrap();
    assert_eq!(report.crashes, 0, "{:#?}", report.examples());
    assert!(
        report.share("loaded, no warning") > 0.0,
        "{}",
        report.outcome_line()
    );
}

#[test]
fn a_seed_names_its_inputs() {
    let mut a = target("translator");
    let mut b = target("translator");
    let first = runner::run(a.as_mut(), 42, inputs(500)).unwrap();
    let second = runner::run(b.as_mut(), 42, inputs(500)).unwrap();
    assert_eq!(first.outcome_line(), second.outcome_line());
}

#[test]
fn a_replay_runs_one_input_under_a_named_setup() {
    // UDP from the mapped client 2001:db8:1::10 to 2001:db8:64::203.0.113.5.
    let udp = nat64_fuzz::hex::decode(
        "600000000010114020010db80001000000000000000000102001\
         0db80064000000000000cb007105\
         9c4000350010 0000 0102030405060708",
    )
    .unwrap();
    let mut packet = udp;
    let sum = {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&packet[8..24]);
        dst.copy_from_slice(&packet[24..40]);
        nat64_fuzz::inet::checksum(
            &packet[40..],
            nat64_fuzz::inet::pseudo_v6(&src, &dst, 17, 16),
        )
    };
    packet[46..48].copy_from_slice(&sum.to_be_bytes());
    let mut t = target("translator");
    let checked = runner::replay(t.as_mut(), "nonwkp-96-map", &packet).unwrap();
    assert_eq!(checked.outcome, "translated udp");
    assert!(checked.findings.is_empty(), "{:?}", checked.findings);
    assert!(runner::replay(t.as_mut(), "no-such-setup", &packet).is_err());
}

#[test]
fn the_stateful_target_reaches_bindings_limits_and_hairpins() {
    let mut t = target("stateful");
    let report = runner::run(t.as_mut(), 7, inputs(6000)).unwrap();
    assert_eq!(report.crashes, 0, "{:#?}", report.examples());
    assert_eq!(report.disagreements, 0, "{:#?}", report.examples());
    for outcome in [
        "translated",
        "drop:no_binding",
        "icmp_error:ports_exhausted",
    ] {
        assert!(
            report.share(outcome) > 0.0,
            "{outcome}: {}",
            report.outcome_line()
        );
    }
}
