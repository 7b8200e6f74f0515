//! A hand-written SVG bar chart: per group, one bar for the saturated rate and one for the
//! zero-loss rate, in Mpps.

use std::fmt::Write as _;

pub struct Group {
    pub label: String,
    pub saturated_mpps: f64,
    pub zero_loss_mpps: f64,
}

const BAR: f64 = 26.0;
const GAP: f64 = 22.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 40.0;
const HEIGHT: f64 = 300.0;
const LABEL_SPACE: f64 = 150.0;
const COLOURS: [&str; 2] = ["#3b75af", "#ef8636"];

pub fn bar_chart(title: &str, groups: &[Group]) -> String {
    let max = groups
        .iter()
        .flat_map(|g| [g.saturated_mpps, g.zero_loss_mpps])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(0.1);
    let scale_top = nice_ceiling(max);
    let width = LEFT + groups.len() as f64 * (2.0 * BAR + GAP) + 40.0;
    let height = TOP + HEIGHT + LABEL_SPACE;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="18" font-size="14">{}</text>"#,
        escape(title)
    );
    for (i, (name, colour)) in ["saturated receive rate", "zero-loss rate (RFC 8219)"]
        .iter()
        .zip(COLOURS)
        .enumerate()
    {
        let x = LEFT + i as f64 * 190.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="26" width="10" height="10" fill="{colour}"/><text x="{}" y="35">{name}</text>"#,
            x + 14.0
        );
    }
    // Axis with five ticks.
    for tick in 0..=5 {
        let value = scale_top * f64::from(tick) / 5.0;
        let y = TOP + HEIGHT - HEIGHT * value / scale_top;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value:.2}</text>"##,
            width - 20.0,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">Mpps</text>"#,
        TOP + HEIGHT / 2.0,
        TOP + HEIGHT / 2.0
    );
    for (i, group) in groups.iter().enumerate() {
        let x0 = LEFT + GAP / 2.0 + i as f64 * (2.0 * BAR + GAP);
        for (j, (value, colour)) in [group.saturated_mpps, group.zero_loss_mpps]
            .iter()
            .zip(COLOURS)
            .enumerate()
        {
            let value = if value.is_finite() { *value } else { 0.0 };
            let h = HEIGHT * value / scale_top;
            let x = x0 + j as f64 * BAR;
            let _ = writeln!(
                svg,
                r#"<rect x="{x}" y="{}" width="{}" height="{h}" fill="{colour}"><title>{value:.3} Mpps</title></rect>"#,
                TOP + HEIGHT - h,
                BAR - 2.0
            );
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle" font-size="9">{value:.2}</text>"#,
                x + BAR / 2.0 - 1.0,
                TOP + HEIGHT - h - 3.0
            );
        }
        let lx = x0 + BAR;
        let ly = TOP + HEIGHT + 10.0;
        let _ = writeln!(
            svg,
            r#"<text x="{lx}" y="{ly}" transform="rotate(40 {lx} {ly})">{}</text>"#,
            escape(&group.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// 1, 2 or 5 times a power of ten, at least `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * magnitude)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_two_bars_per_group() {
        let svg = bar_chart(
            "t",
            &[Group {
                label: "a <b>".into(),
                saturated_mpps: 0.7,
                zero_loss_mpps: 0.5,
            }],
        );
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2);
        assert!(svg.contains("a &lt;b&gt;"));
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
    }
}
