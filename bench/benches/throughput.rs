use std::time::Duration;

use nat64_bench::{frames::UdpFrame, generator, sink, testbed::*};

fn main() -> anyhow::Result<()> {
    let mut bed = Testbed::new()?;
    let path = bed.direct_to_sink()?;
    for len in [80usize, 1400] {
        let frame = UdpFrame::new(
            len,
            path.source_mac,
            path.destination_mac,
            GENERATOR_V6,
            SINK_V6,
        );
        for rate in [None, Some(1e6)] {
            let before = sink::count(&bed.programs, sink::Arrival::Ipv6Udp)?;
            let offer = generator::Offer {
                rate_pps: rate,
                duration: Duration::from_secs(2),
                flows: 64,
            };
            let sent = generator::send(
                &mut bed.programs,
                &bed.generator,
                path.interface,
                &frame,
                &offer,
            )?;
            std::thread::sleep(Duration::from_millis(200));
            let got = sink::count(&bed.programs, sink::Arrival::Ipv6Udp)? - before;
            println!(
                "len {len} rate {rate:?}: sent {sent} ({:.3} Mpps) got {got}",
                sent as f64 / 2e6
            );
        }
    }
    Ok(())
}
